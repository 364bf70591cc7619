/// 2-D discrete Fourier transforms of complex tensors stored as [..., H, W, 2] (real, imaginary), with gradients.
extension Tensor {
    /// Forward 2-D DFT over axes (−3, −2), unnormalized: X[u,v] = Σ x[h,w] e^{−2πi(uh/H + vw/W)} (`torch.fft.fft2`).
    public func fft2() -> Tensor {
        fftPlanes(.forward, scale: 1).recorded([self]) { g in [g.fftPlanes(.inverse, scale: 1)] }
    }

    /// Inverse 2-D DFT over axes (−3, −2), normalized by 1/(H·W) (`torch.fft.ifft2`).
    public func ifft2() -> Tensor {
        let n = Float(shape[rank - 3] * shape[rank - 2])
        return fftPlanes(.inverse, scale: 1 / n).recorded([self]) { g in [g.fftPlanes(.forward, scale: 1 / n)] }
    }

    /// A complex tensor [..., 2] from a real one (imaginary part zero).
    public func asComplex() -> Tensor {
        Tensor.concatenate([reshaped(shape + [1]), Tensor.zeros(shape + [1])], axis: -1)
    }

    /// Real part of a complex [..., 2] tensor.
    public var realPart: Tensor { slice(axis: -1, 0..<1).reshaped(Array(shape.dropLast())) }
    /// Imaginary part of a complex [..., 2] tensor.
    public var imaginaryPart: Tensor { slice(axis: -1, 1..<2).reshaped(Array(shape.dropLast())) }
    /// |z| of a complex [..., 2] tensor (with ε inside the root so the gradient stays finite at 0).
    public func complexMagnitude(eps: Float = 1e-12) -> Tensor { (realPart.squared() + imaginaryPart.squared() + eps).sqrt() }

    /// Transforms every H×W plane, then multiplies by `scale`; no tape.
    func fftPlanes(_ direction: FFTDirection, scale: Float) -> Tensor {
        precondition(rank >= 3 && shape[rank - 1] == 2, "FFT expects a complex tensor [..., H, W, 2], got \(shape)")
        let (h, w) = (shape[rank - 3], shape[rank - 2])
        let planes = count / Swift.max(2 * h * w, 1), n = count / 2
        let re = TensorStorage(count: n), im = TensorStorage(count: n)
        for i in 0..<n { re.pointer[i] = data[2 * i]; im.pointer[i] = data[2 * i + 1] }
        fft2D(re: re.pointer, im: im.pointer, batch: planes, height: h, width: w, direction: direction)
        let out = Tensor(uninitializedShape: shape)
        for i in 0..<n { out.data[2 * i] = re.pointer[i] * scale; out.data[2 * i + 1] = im.pointer[i] * scale }
        return out
    }
}
