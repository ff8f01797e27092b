using System.Text.Json;

namespace DistilBert.Checkpoints;

/// <summary>Writes a model folder that transformers' <c>from_pretrained</c> loads: config.json, model.safetensors, tokenizer files.</summary>
public static class ModelFolder
{
    /// <summary>The config file's name in HF folders.</summary>
    public const string ConfigName = "config.json";
    /// <summary>A config.json larger than this is refused before it is read.</summary>
    public const long MaxConfigBytes = 8L << 20;

    /// <summary>
    /// Writes <paramref name="configJson"/> as config.json, <paramref name="tensors"/> as model.safetensors, and copies
    /// <paramref name="extraFilesToCopy"/> (tokenizer files...) by file name. Everything is first written to a temporary
    /// folder beside <paramref name="dir"/>; then the folder is renamed into place, or (when it exists) each file is
    /// renamed over its old version, so a reader never sees a half-written file. Sources may live in <paramref name="dir"/>.
    /// Stale temporaries of killed earlier writes (<see cref="TemporaryFiles.RemoveStale"/>) are deleted first.
    /// </summary>
    public static void Save(string dir, string configJson, IEnumerable<TensorToWrite> tensors, IEnumerable<string>? extraFilesToCopy = null)
    {
        try { using var _ = JsonDocument.Parse(configJson); }
        catch (JsonException e) { throw new InvalidInputException($"the config to save is not valid JSON: {e.Message}", e); }

        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        var parent = Path.GetDirectoryName(target) ?? throw new InvalidInputException($"cannot save a model to '{dir}'");
        Directory.CreateDirectory(parent);
        // Leftovers of a killed earlier save of this folder (and of atomic writes into it) go first.
        TemporaryFiles.RemoveStale(parent, Path.GetFileName(target));
        TemporaryFiles.RemoveStale(target);
        var temp = TemporaryFiles.PathBeside(parent, Path.GetFileName(target));
        Directory.CreateDirectory(temp);
        try
        {
            File.WriteAllText(Path.Combine(temp, ConfigName), configJson.EndsWith('\n') ? configJson : configJson + "\n");
            SafeTensors.Write(Path.Combine(temp, CheckpointFile.SafeTensorsName), tensors);
            foreach (var source in extraFilesToCopy ?? [])
            {
                var name = Path.GetFileName(source);
                if (name is ConfigName or CheckpointFile.SafeTensorsName)
                    throw new InvalidInputException($"'{source}' would overwrite the {name} being saved");
                if (!File.Exists(source)) throw new FileNotFoundException($"file to copy into the model folder not found: {source}", source);
                File.Copy(source, Path.Combine(temp, name), overwrite: true);
            }

            if (!Directory.Exists(target))
            {
                Directory.Move(temp, target);
                return;
            }
            foreach (var file in Directory.GetFiles(temp))
                File.Move(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }
}
