using DistilBert.Compute;

namespace DistilBert.Modeling.Layers;

public enum ActivationKind { Gelu, Relu, Tanh }

/// <summary>Element-wise activations with their derivatives, by config name ("gelu" is exact erf GELU).</summary>
public static class ActivationFunction
{
    public static ActivationKind FromName(string name) => name switch
    {
        "gelu" => ActivationKind.Gelu,
        "relu" => ActivationKind.Relu,
        "tanh" => ActivationKind.Tanh,
        _ => throw new ModelFileException(null, $"activation '{name}' is not supported"),
    };

    public static void Forward(ActivationKind kind, ReadOnlySpan<float> x, Span<float> y)
    {
        switch (kind)
        {
            case ActivationKind.Gelu: Activations.Gelu(x, y); break;
            case ActivationKind.Relu: Activations.Relu(x, y); break;
            default: Activations.Tanh(x, y); break;
        }
    }

    /// <summary>gelu'(x) in float from x and the forward output (see <see cref="ActivationsBackward"/>); ten times cheaper
    /// than the double-precision <see cref="Activations.GeluDerivative"/>, which the tests compare it against.</summary>
    public static float GeluDerivative(float x, float gelu) => ActivationsBackwardReference.GeluDerivative(x, gelu);

    /// <summary>dx = dy · f'(x), from the pre-activation x and the output y (GELU and tanh use y).</summary>
    public static void Backward(ActivationKind kind, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        switch (kind)
        {
            case ActivationKind.Gelu: ActivationsBackward.Gelu(x, y, dy, dx); break;
            case ActivationKind.Relu: ActivationsBackward.Relu(x, dy, dx); break;
            default: ActivationsBackward.Tanh(y, dy, dx); break;
        }
    }
}
