import ForensightTensor

extension Activation {
    /// The vector kernel computing this activation, where there is one.
    public var kernel: PointwiseKernel? {
        switch self {
        case .relu: .relu
        case .relu6: .relu6
        case .gelu: .gelu
        case .quickGelu: .quickGelu
        case .silu: .silu
        case .sigmoid: .sigmoid
        case .tanh: .tanh
        case .identity: nil
        }
    }
}

extension BatchNorm2d {
    /// Evaluation-mode BatchNorm as a per-channel affine map y = x·scale + shift, from the running statistics:
    /// scale = γ / √(var + eps), shift = β − mean·scale.
    public var runningAffine: (scale: [Float], shift: [Float]) {
        let c = runningMean.count
        var scale = [Float](repeating: 0, count: c), shift = [Float](repeating: 0, count: c)
        for i in 0..<c {
            scale[i] = weight.data[i] / (runningVar.data[i] + eps).squareRoot()
            shift[i] = bias.data[i] - runningMean.data[i] * scale[i]
        }
        return (scale, shift)
    }
}

extension Conv2d {
    /// activation(bn(conv(x))) (+ residual).
    ///
    /// In evaluation with nothing recording gradients, BatchNorm folds into a per-channel scale and shift applied in
    /// the convolution's own pass together with the activation and the residual add: one pass over the output instead
    /// of four. Otherwise the layers run one after another (and train as usual).
    public func withBatchNorm(_ bn: BatchNorm2d, activation: Activation = .identity, residual: Tensor? = nil,
                              _ x: Tensor) -> Tensor {
        let recording = GradMode.isEnabled && (x.requiresGrad || namedParameters().contains { $0.1.requiresGrad }
                                               || bn.namedParameters().contains { $0.1.requiresGrad } || residual?.requiresGrad == true)
        guard !bn.isTraining, !recording else {
            let y = activation(bn(self(x)))
            return residual.map { y + $0 } ?? y
        }
        let (scale, shift) = bn.runningAffine
        return Tensor.conv2d(x, weight: weight, bias: bias, stride: stride, padding: resolvedPadding(for: x),
                             dilation: dilation, groups: groups,
                             epilogue: ChannelEpilogue(scale: scale, shift: shift, activation: activation.kernel, residual: residual))
    }
}
