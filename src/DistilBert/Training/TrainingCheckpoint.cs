using DistilBert.Checkpoints;
using DistilBert.Modeling;

namespace DistilBert.Training;

/// <summary>
/// A resumable checkpoint, one folder: <c>model/</c> (an HF model folder), <c>optimizer.safetensors</c> (AdamW's
/// exp_avg.NAME, exp_avg_sq.NAME and step.NAME per parameter) and <c>trainer_state.json</c> (<see cref="TrainingState"/>).
/// Saving is atomic: the new checkpoint is written completely into a temporary folder beside the old one, then the
/// old one is renamed aside, the new one renamed into place and the old one deleted. A crash at any moment leaves
/// either the old or the new checkpoint complete; <see cref="Find"/> picks whichever is whole.
/// </summary>
public static class TrainingCheckpoint
{
    public const string FolderName = "checkpoint";
    public const string ModelFolderName = "model";
    public const string OptimizerFileName = "optimizer.safetensors";
    public const string StateFileName = "trainer_state.json";
    const string PreviousFolderName = ".checkpoint.previous";

    /// <summary>Writes the checkpoint of <paramref name="runDirectory"/>. <paramref name="beforeCommit"/> runs once everything
    /// is written to the temporary folder, before any rename (crash drills in tests throw from it).</summary>
    public static string Save(string runDirectory, TransformerModel model, AdamW optimizer, TrainingState state,
        IEnumerable<string>? filesToCopy = null, Action<string>? beforeCommit = null)
    {
        Directory.CreateDirectory(runDirectory);
        var target = Path.Combine(runDirectory, FolderName);
        var previous = Path.Combine(runDirectory, PreviousFolderName);
        var temp = TemporaryFiles.PathBeside(runDirectory, FolderName);
        try
        {
            Directory.CreateDirectory(temp);
            PretrainedModel.Save(model, Path.Combine(temp, ModelFolderName), filesToCopy);
            SafeTensors.Write(Path.Combine(temp, OptimizerFileName), OptimizerTensors(optimizer));
            File.WriteAllText(Path.Combine(temp, StateFileName), state.ToJson());
            beforeCommit?.Invoke(temp);

            // A previous crash between the two renames can leave only the "previous" folder: it is then the last good
            // checkpoint and must survive until the new one is in place.
            if (Directory.Exists(target))
            {
                if (Directory.Exists(previous)) Directory.Delete(previous, recursive: true);
                Directory.Move(target, previous);
            }
            Directory.Move(temp, target);
            if (Directory.Exists(previous)) Directory.Delete(previous, recursive: true);
            return target;
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>The complete checkpoint folder of a run, or null when it has none.</summary>
    public static string? Find(string runDirectory)
    {
        foreach (var name in new[] { FolderName, PreviousFolderName })
        {
            var dir = Path.Combine(runDirectory, name);
            if (File.Exists(Path.Combine(dir, StateFileName)) && File.Exists(Path.Combine(dir, OptimizerFileName))
                && File.Exists(Path.Combine(dir, ModelFolderName, ModelFolder.ConfigName)))
                return dir;
        }
        return null;
    }

    public static TrainingState ReadState(string checkpointDirectory)
    {
        var path = Path.Combine(checkpointDirectory, StateFileName);
        return TrainingState.FromJson(File.ReadAllText(path), path);
    }

    /// <summary>Loads the checkpoint's weights into <paramref name="model"/> and its moments into <paramref name="optimizer"/>;
    /// every trainable parameter must be present.</summary>
    public static TrainingState Load(string checkpointDirectory, TransformerModel model, AdamW optimizer)
    {
        var state = ReadState(checkpointDirectory);
        var modelDir = Path.Combine(checkpointDirectory, ModelFolderName);
        using (var source = CheckpointFile.Open(modelDir))
        {
            var report = StateDict.LoadInto(model.Parameters, source, model.BaseModelPrefix);
            if (!report.IsComplete) throw new ModelFileException(modelDir, $"the checkpoint does not match the model: {report}");
            model.MarkWeightsChanged(); // the model may have run before: packed inference copies must refresh
        }
        var optimizerPath = Path.Combine(checkpointDirectory, OptimizerFileName);
        using var moments = SafeTensors.Open(optimizerPath);
        optimizer.State.Clear();
        foreach (var p in model.Parameters)
        {
            if (!moments.Contains("step." + p.Name)) continue; // never stepped (no gradient yet, or frozen)
            var expAvg = new float[p.Length];
            var expAvgSq = new float[p.Length];
            foreach (var (name, into) in new[] { ("exp_avg." + p.Name, expAvg), ("exp_avg_sq." + p.Name, expAvgSq) })
            {
                if (!moments.Contains(name)) throw new ModelFileException(optimizerPath, $"no tensor '{name}'");
                if (moments.Info(name).ByteLength != (long)p.Length * sizeof(float))
                    throw new ModelFileException(optimizerPath, $"'{name}' has {moments.Info(name).ByteLength / 4} elements, the parameter {p.ShapeText} has {p.Length}");
                moments.ReadFloat32(name, into);
            }
            optimizer.State[p.Name] = (expAvg, expAvgSq, moments.ReadInt64("step." + p.Name)[0]);
        }
        model.Random.State = state.DropoutRandomState;
        return state;
    }

    static IEnumerable<TensorToWrite> OptimizerTensors(AdamW optimizer)
    {
        foreach (var (name, s) in optimizer.State.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            long[] shape = [s.ExpAvg.Length];
            yield return TensorToWrite.Float32("exp_avg." + name, shape, s.ExpAvg);
            yield return TensorToWrite.Float32("exp_avg_sq." + name, shape, s.ExpAvgSq);
            yield return TensorToWrite.Int64("step." + name, [], [s.Step]);
        }
    }
}
