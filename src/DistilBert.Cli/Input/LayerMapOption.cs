using DistilBert.Distillation;

namespace DistilBert.Cli.Input;

/// <summary>The student's teacher layers from <c>--layers 0,2,4</c>, else the default map for <c>--student-layers N</c>
/// (default: half the teacher's depth). Shared by init-student and distill-task.</summary>
public static class LayerMapOption
{
    /// <summary>The teacher layer each student layer starts from, in student order.</summary>
    public static int[] Resolve(string? layers, int? studentLayers, int teacherLayers)
    {
        if (layers is null) return StudentExtraction.DefaultLayerMap(teacherLayers, studentLayers ?? Math.Max(1, teacherLayers / 2));
        var parts = layers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new InvalidInputException("--layers is empty");
        return parts.Select(p => int.TryParse(p, out int v) ? v : throw new InvalidInputException($"--layers: '{p}' is not a layer number")).ToArray();
    }
}
