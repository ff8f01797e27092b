using DistilBert.Checkpoints;

namespace DistilBert.Distillation;

/// <summary>One tensor of the student's initial state dict and the teacher tensor(s) it was copied from.</summary>
public sealed record ExtractedTensor(string Name, long[] Shape, float[] Value, string SourceName);

/// <summary>
/// Initialises a DistilBERT student from a BERT teacher's checkpoint as HF's <c>scripts/extract_distilbert.py</c> does:
/// word/position embeddings and their LayerNorm copied, teacher layer <c>layers[i]</c> → student layer i (renamed
/// q/k/v/out_lin, sa_layer_norm, ffn.lin1/lin2, output_layer_norm), token-type embeddings and pooler dropped, the
/// MLM decoder carried over as <c>vocab_projector</c> (and with <c>includeVocabTransform</c> the head's dense and
/// LayerNorm as <c>vocab_transform</c> / <c>vocab_layer_norm</c>).
/// </summary>
public static class StudentExtraction
{
    /// <summary>
    /// The teacher layers a student of <paramref name="studentLayers"/> layers takes by default: evenly spaced from the
    /// first to the last layer, rounded half away from zero — for 12 → 6 exactly HF's [0, 2, 4, 7, 9, 11].
    /// A one-layer student takes the first layer.
    /// </summary>
    public static int[] DefaultLayerMap(int teacherLayers, int studentLayers)
    {
        if (teacherLayers < 1) throw new InvalidInputException($"the teacher has {teacherLayers} layers");
        if (studentLayers < 1 || studentLayers > teacherLayers)
            throw new InvalidInputException($"a student must have between 1 and {teacherLayers} layers (the teacher's), not {studentLayers}");
        if (studentLayers == 1) return [0];
        var map = new int[studentLayers];
        for (int i = 0; i < studentLayers; i++)
            map[i] = (int)Math.Round(i * (teacherLayers - 1) / (double)(studentLayers - 1), MidpointRounding.AwayFromZero);
        return map;
    }

    /// <summary>Number of encoder layers in a BERT checkpoint, counted from its tensor names.</summary>
    public static int CountTeacherLayers(ITensorSource teacher)
    {
        int max = -1;
        foreach (var t in teacher.Tensors)
        {
            var name = StripPrefix(t.Name);
            const string marker = "encoder.layer.";
            if (!name.StartsWith(marker, StringComparison.Ordinal)) continue;
            int end = name.IndexOf('.', marker.Length);
            if (end > marker.Length && int.TryParse(name.AsSpan(marker.Length, end - marker.Length), out int layer)) max = Math.Max(max, layer);
        }
        if (max < 0) throw new ModelFileException(teacher.FilePath, "no 'bert.encoder.layer.N' tensors: the teacher is not a BERT checkpoint");
        return max + 1;
    }

    public static IReadOnlyList<ExtractedTensor> Extract(ITensorSource teacher, IReadOnlyList<int> layers, bool includeVocabTransform)
    {
        int teacherLayers = CountTeacherLayers(teacher);
        foreach (var l in layers)
            if (l < 0 || l >= teacherLayers) throw new InvalidInputException($"teacher layer {l} does not exist: the teacher has layers 0..{teacherLayers - 1}");
        string prefix = teacher.Contains("bert.embeddings.word_embeddings.weight") ? "bert." : "";

        var result = new List<ExtractedTensor>();
        void Copy(string student, params string[] candidates)
        {
            foreach (var source in candidates)
            {
                if (!teacher.Contains(source)) continue;
                var info = teacher.Info(source);
                result.Add(new ExtractedTensor(student, info.Shape, teacher.ReadFloat32(source), source));
                return;
            }
            throw new ModelFileException(teacher.FilePath, $"teacher tensor '{candidates[0]}' (for student '{student}') is missing");
        }

        foreach (var w in new[] { "word_embeddings", "position_embeddings" })
            Copy($"distilbert.embeddings.{w}.weight", $"{prefix}embeddings.{w}.weight");
        foreach (var p in new[] { "weight", "bias" })
            Copy($"distilbert.embeddings.LayerNorm.{p}", $"{prefix}embeddings.LayerNorm.{p}");

        for (int s = 0; s < layers.Count; s++)
        {
            string from = $"{prefix}encoder.layer.{layers[s]}.", to = $"distilbert.transformer.layer.{s}.";
            foreach (var p in new[] { "weight", "bias" })
            {
                Copy($"{to}attention.q_lin.{p}", $"{from}attention.self.query.{p}");
                Copy($"{to}attention.k_lin.{p}", $"{from}attention.self.key.{p}");
                Copy($"{to}attention.v_lin.{p}", $"{from}attention.self.value.{p}");
                Copy($"{to}attention.out_lin.{p}", $"{from}attention.output.dense.{p}");
                Copy($"{to}sa_layer_norm.{p}", $"{from}attention.output.LayerNorm.{p}");
                Copy($"{to}ffn.lin1.{p}", $"{from}intermediate.dense.{p}");
                Copy($"{to}ffn.lin2.{p}", $"{from}output.dense.{p}");
                Copy($"{to}output_layer_norm.{p}", $"{from}output.LayerNorm.{p}");
            }
        }

        // The MLM head, when the teacher has one. Safetensors files omit the tied decoder weight: fall back to the
        // word embeddings it is tied to.
        if (teacher.Contains("cls.predictions.bias") || teacher.Contains("cls.predictions.decoder.bias"))
        {
            if (includeVocabTransform)
            {
                foreach (var p in new[] { "weight", "bias" })
                {
                    Copy($"vocab_transform.{p}", $"cls.predictions.transform.dense.{p}");
                    Copy($"vocab_layer_norm.{p}", $"cls.predictions.transform.LayerNorm.{p}");
                }
            }
            Copy("vocab_projector.weight", "cls.predictions.decoder.weight", $"{prefix}embeddings.word_embeddings.weight");
            Copy("vocab_projector.bias", "cls.predictions.bias", "cls.predictions.decoder.bias");
        }
        return result;
    }

    static string StripPrefix(string name) => name.StartsWith("bert.", StringComparison.Ordinal) ? name[5..] : name;
}
