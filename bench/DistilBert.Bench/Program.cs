using BenchmarkDotNet.Running;

namespace DistilBert.Bench;

// BenchmarkDotNet suites for the kernels and the tokenizer; end-to-end model timing lives in `distilbert bench`.
// Run: dotnet run -c Release --project bench/DistilBert.Bench -- --filter '*'
// `ort-texts ...` instead runs ONNX Runtime on real texts, padded, for the mixed-length comparison (OrtTextsRunner).
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "ort-texts") return OrtTextsRunner.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
