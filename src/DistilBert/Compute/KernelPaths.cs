using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DistilBert.Compute;

/// <summary>The instruction set a kernel family runs on. <see cref="KernelPaths.Active"/> picks the widest the machine
/// has; tests force the narrower ones to check every path the machine can run against the references.</summary>
internal enum KernelPath { Portable, Avx2, Avx512 }

internal static class KernelPaths
{
    public static KernelPath Best =>
        Avx512F.IsSupported && Vector512.IsHardwareAccelerated ? KernelPath.Avx512
        : Avx2.IsSupported && Fma.IsSupported ? KernelPath.Avx2
        : KernelPath.Portable;

    /// <summary>The path in use; only tests and benchmarks change it, and only to one the machine supports.</summary>
    public static KernelPath Active = Best;

    public static IEnumerable<KernelPath> Supported()
    {
        yield return KernelPath.Portable;
        if (Avx2.IsSupported && Fma.IsSupported) yield return KernelPath.Avx2;
        if (Best == KernelPath.Avx512) yield return KernelPath.Avx512;
    }
}
