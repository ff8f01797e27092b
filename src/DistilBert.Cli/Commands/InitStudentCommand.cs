using System.Text.Json.Nodes;
using DistilBert.Cli.Output;
using System.CommandLine;
using DistilBert.Checkpoints;
using DistilBert.Distillation;
using Spectre.Console;

namespace DistilBert.Cli.Commands;

/// <summary><c>distilbert init-student</c>: a DistilBERT student folder initialised from a BERT teacher's layers.</summary>
public static class InitStudentCommand
{
    static readonly string[] TokenizerFiles = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

    /// <summary>The <c>init-student</c> command.</summary>
    public static Command Create()
    {
        var teacher = new Option<string>("--teacher") { Description = "BERT teacher model folder", Required = true };
        var layers = new Option<string?>("--layers") { Description = "teacher layers to copy, e.g. 0,2,4,7,9,11 (default: evenly spaced, half depth)" };
        var studentLayers = new Option<int?>("--student-layers") { Description = "student depth when --layers is not given (default: half the teacher's)" };
        var noVocabTransform = new Option<bool>("--no-vocab-transform") { Description = "do not copy the MLM head's dense + LayerNorm (HF's extraction without --vocab_transform)" };
        var output = new Option<string>("--out") { Description = "student model folder to write", Required = true };
        var json = new Option<bool>("--json") { Description = "print the result as JSON" };
        var command = new Command("init-student", "Initialise a DistilBERT student from a BERT teacher (HF's extract_distilbert mapping).")
        {
            teacher, layers, studentLayers, noVocabTransform, output, json,
        };
        CliAction.Set(command, parse =>
        {
            string teacherDir = parse.GetValue(teacher)!, outDir = parse.GetValue(output)!;
            Input.OutputFolder.RefuseOverlap(outDir, ("--teacher", teacherDir));
            var configPath = Path.Combine(teacherDir, "config.json");
            if (!File.Exists(configPath)) throw new ModelFileException(configPath, "the teacher folder has no config.json");
            using var source = CheckpointFile.Open(teacherDir); // safetensors, sharded, or pytorch_model.bin
            int teacherLayers = StudentExtraction.CountTeacherLayers(source);
            int[] map = Input.LayerMapOption.Resolve(parse.GetValue(layers), parse.GetValue(studentLayers), teacherLayers);
            var tensors = StudentExtraction.Extract(source, map, includeVocabTransform: !parse.GetValue(noVocabTransform));
            bool masks = tensors.Any(t => t.Name == "vocab_projector.bias");
            var (config, notes) = StudentConfig.FromTeacher(File.ReadAllText(configPath), configPath, map.Length, masks);

            Directory.CreateDirectory(outDir);
            TemporaryFiles.RemoveStale(outDir); // leftovers of a killed earlier write of this folder
            // HF's safe serialization stores a tied tensor once: the projector is the word-embedding matrix.
            var word = tensors.First(t => t.Name == "distilbert.embeddings.word_embeddings.weight");
            var toWrite = tensors
                .Where(t => !(t.Name == "vocab_projector.weight" && t.Value.AsSpan().SequenceEqual(word.Value)))
                .Select(t => TensorToWrite.Float32(t.Name, t.Shape, t.Value));
            SafeTensors.Write(Path.Combine(outDir, "model.safetensors"), toWrite);
            AtomicFile.WriteAllText(Path.Combine(outDir, "config.json"), config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
            foreach (var file in TokenizerFiles)
                if (File.Exists(Path.Combine(teacherDir, file))) File.Copy(Path.Combine(teacherDir, file), Path.Combine(outDir, file), overwrite: true);

            long teacherParams = source.Tensors.Where(t => t.DType is TensorDType.F32 or TensorDType.F16 or TensorDType.BF16).Sum(t => t.ElementCount);
            long studentParams = tensors.Where(t => t.Name != "vocab_projector.weight").Sum(t => (long)t.Value.Length);
            if (parse.GetValue(json))
            {
                Console.WriteLine(new JsonObject
                {
                    ["teacher"] = Path.GetFullPath(teacherDir), ["student"] = Path.GetFullPath(outDir), ["teacher_layers"] = teacherLayers,
                    ["layer_map"] = JsonNodes.Array(map), ["tensors"] = tensors.Count, ["teacher_parameters"] = teacherParams,
                    ["student_parameters"] = studentParams, ["notes"] = JsonNodes.Array(notes),
                }.ToJsonString());
                return 0;
            }
            var table = new Table().AddColumn("").AddColumn("teacher").AddColumn("student");
            table.AddRow("layers", teacherLayers.ToString(), Markup.Escape($"{map.Length}  ← teacher [{string.Join(", ", map)}]"));
            table.AddRow("parameters", $"{teacherParams:N0}", $"{studentParams:N0} ({100.0 * studentParams / teacherParams:F0}%)");
            AnsiConsole.Write(table);
            foreach (var note in notes) AnsiConsole.MarkupLine($"[grey]note: {Markup.Escape(note)}[/]");
            AnsiConsole.MarkupLine($"student written to [green]{Markup.Escape(Path.GetFullPath(outDir))}[/]");
            return 0;
        });
        return command;
    }
}
