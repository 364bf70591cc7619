extension Tensor {
    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(storage: TensorStorage(count: shape.reduce(1, *), zeroed: true), shape: shape, requiresGrad: requiresGrad)
    }

    /// A tensor filled with `value`.
    public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        t.data.initialize(repeating: value, count: t.count)
        t.requiresGrad = requiresGrad
        return t
    }

    /// A tensor of ones.
    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor { full(shape, 1, requiresGrad: requiresGrad) }

    /// 0, 1, …, n-1 as Float.
    public static func arange(_ n: Int) -> Tensor { Tensor((0..<n).map(Float.init), shape: [n]) }

    /// Standard normal samples N(0, 1) scaled by `std` from a seeded generator.
    public static func randn(_ shape: [Int], std: Float = 1, using rng: inout SeededRandom, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count { t.data[i] = rng.nextNormal() * std }
        t.requiresGrad = requiresGrad
        return t
    }

    /// Uniform samples in [low, high) from a seeded generator.
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, using rng: inout SeededRandom,
                               requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count { t.data[i] = low + (high - low) * rng.nextFloat() }
        t.requiresGrad = requiresGrad
        return t
    }

    /// A tensor of zeros with this tensor's shape.
    public func zerosLike() -> Tensor { .zeros(shape) }
}
