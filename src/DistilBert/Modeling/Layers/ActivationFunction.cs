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

    /// <summary>dx = dy · f'(x), from the pre-activation x and the output y (tanh uses y).</summary>
    public static void Backward(ActivationKind kind, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        switch (kind)
        {
            case ActivationKind.Gelu:
                for (int i = 0; i < dy.Length; i++) dx[i] = dy[i] * Activations.GeluDerivative(x[i]);
                break;
            case ActivationKind.Relu:
                for (int i = 0; i < dy.Length; i++) dx[i] = x[i] > 0 ? dy[i] : 0f;
                break;
            default:
                for (int i = 0; i < dy.Length; i++) dx[i] = dy[i] * (1f - y[i] * y[i]);
                break;
        }
    }
}
