using BenchmarkDotNet.Running;

namespace DistilBert.Bench;

// BenchmarkDotNet suites for the kernels and the tokenizer; end-to-end model timing lives in `distilbert bench`.
// Run: dotnet run -c Release --project bench/DistilBert.Bench -- --filter '*'
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
