using System.Text.Json.Nodes;
using DistilBert.Checkpoints;
using DistilBert.Modeling;

namespace DistilBert.Distillation;

/// <summary>The distillation tasks and the DistilBERT head each one trains.</summary>
public enum DistillationTaskKind { Classification, TokenClassification, QuestionAnswering }

/// <summary>A student built from a teacher's layers, with what was copied and what is new.</summary>
public sealed record TaskStudentInit(TransformerModel Student, int[] LayerMap, int CopiedTensors, IReadOnlyList<string> FreshTensors, IReadOnlyList<string> Notes);

/// <summary>
/// Builds a task student from a fine-tuned teacher. From BERT: HF's extract_distilbert rule (embeddings and their
/// LayerNorm, mapped layers; token types and pooler dropped) and a freshly initialised DistilBERT head — BERT's
/// pooler + classifier have no DistilBERT counterpart (pre_classifier + classifier). From DistilBERT: the same
/// layer rule, every other tensor (embeddings, head) copied as is.
/// </summary>
public static class TaskStudent
{
    /// <summary>The head a task's teacher and student have.</summary>
    public static ModelHead Head(DistillationTaskKind kind) => kind switch
    {
        DistillationTaskKind.Classification => ModelHead.SequenceClassification,
        DistillationTaskKind.TokenClassification => ModelHead.TokenClassification,
        _ => ModelHead.QuestionAnswering,
    };

    /// <summary>The student's HF class for a task, e.g. DistilBertForSequenceClassification.</summary>
    public static string Architecture(DistillationTaskKind kind) => new ModelArchitecture(ModelFamily.DistilBert, Head(kind)).Name;

    /// <param name="teacherDir">the teacher's folder (its checkpoint and config.json are read)</param>
    /// <param name="layerMap">teacher layer for each student layer (see <see cref="StudentExtraction.DefaultLayerMap"/>)</param>
    public static TaskStudentInit FromTeacher(string teacherDir, TransformerModel teacher, DistillationTaskKind kind, IReadOnlyList<int> layerMap, ulong seed = 42)
    {
        int teacherLayers = teacher.Config.NumLayers;
        foreach (var l in layerMap)
            if (l < 0 || l >= teacherLayers) throw new InvalidInputException($"teacher layer {l} does not exist: the teacher has layers 0..{teacherLayers - 1}");
        if (layerMap.Count > teacherLayers)
            throw new InvalidInputException($"a student of {layerMap.Count} layers is deeper than the teacher ({teacherLayers} layers)");
        var architecture = Architecture(kind);
        var notes = new List<string>();
        TransformerModel student;
        var copied = new HashSet<string>(StringComparer.Ordinal);

        if (teacher.Architecture.Family == ModelFamily.Bert)
        {
            var configPath = Path.Combine(teacherDir, ModelFolder.ConfigName);
            var (json, configNotes) = StudentConfig.FromTeacher(File.ReadAllText(configPath), configPath, layerMap.Count, masks: false);
            notes.AddRange(configNotes);
            json["architectures"] = new JsonArray(architecture);
            student = PretrainedModel.Create(ModelConfig.Parse(json.ToJsonString(), configPath), architecture, seed);
            using var source = CheckpointFile.Open(teacherDir);
            foreach (var t in StudentExtraction.Extract(source, layerMap.ToArray(), includeVocabTransform: false))
                if (student.Parameters.TryGet(t.Name, out var p) && p.Length == t.Value.Length)
                {
                    t.Value.CopyTo(p.Value, 0);
                    copied.Add(p.Name);
                }
        }
        else
        {
            var config = ModelConfig.Parse(teacher.Config.ToJson());
            ((DistilBertConfig)config).NLayers = layerMap.Count;
            student = PretrainedModel.Create(config, architecture, seed);
            foreach (var p in student.Parameters)
            {
                var source = TeacherName(p.Name, layerMap);
                if (teacher.Parameters.TryGet(source, out var tp) && tp.Length == p.Length)
                {
                    tp.Value.CopyTo(p.Value, 0);
                    copied.Add(p.Name);
                }
            }
        }
        var fresh = student.Parameters.Where(p => !copied.Contains(p.Name)).Select(p => p.Name).ToList();
        if (fresh.Count > 0) notes.Add($"freshly initialised (no teacher counterpart): {string.Join(", ", fresh)}");
        return new TaskStudentInit(student, layerMap.ToArray(), copied.Count, fresh, notes);
    }

    /// <summary>distilbert.transformer.layer.i.* ← distilbert.transformer.layer.map[i].*; other names unchanged.</summary>
    static string TeacherName(string studentName, IReadOnlyList<int> layerMap)
    {
        const string marker = "transformer.layer.";
        int at = studentName.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0) return studentName;
        int start = at + marker.Length, end = studentName.IndexOf('.', start);
        int layer = int.Parse(studentName.AsSpan(start, end - start));
        return string.Concat(studentName.AsSpan(0, start), layerMap[layer].ToString(), studentName.AsSpan(end));
    }
}
