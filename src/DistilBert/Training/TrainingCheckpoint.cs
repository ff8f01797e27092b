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
        long length = new FileInfo(path).Length;
        if (length > TrainingState.MaxFileBytes)
            throw new ModelFileException(path, $"{length:N0} bytes, more than a trainer state can take ({TrainingState.MaxFileBytes:N0})");
        return TrainingState.FromJson(File.ReadAllText(path), path);
    }

    /// <summary>Loads the checkpoint's weights into <paramref name="model"/> and its moments into <paramref name="optimizer"/>;
    /// every trainable parameter must be present. <paramref name="state"/>: the checkpoint's state when already read
    /// (and validated against the run).</summary>
    public static TrainingState Load(string checkpointDirectory, TransformerModel model, AdamW optimizer, TrainingState? state = null)
    {
        state ??= ReadState(checkpointDirectory);
        var modelDir = Path.Combine(checkpointDirectory, ModelFolderName);
        using (var source = CheckpointFile.Open(modelDir))
        {
            var report = ParameterStateDict.LoadInto(model.Parameters, source, model.BaseModelPrefix);
            if (!report.IsComplete) throw new ModelFileException(modelDir, $"the checkpoint does not match the model: {report}");
            model.MarkWeightsChanged(); // the model may have run before: packed inference copies must refresh
        }
        LoadOptimizerState(Path.Combine(checkpointDirectory, OptimizerFileName), model, optimizer, state.GlobalStep);
        model.Random.State = state.DropoutRandomState;
        return state;
    }

    /// <summary>
    /// AdamW's state as <see cref="OptimizerTensors"/> wrote it, checked tensor by tensor against the model: F32 moments
    /// of the parameter's element count (flat, or in its shape), finite, second moments ≥ 0; an I64 scalar step in
    /// [1, <paramref name="globalStep"/>]; no tensor for a parameter the model does not have.
    /// </summary>
    static void LoadOptimizerState(string path, TransformerModel model, AdamW optimizer, int globalStep)
    {
        using var moments = SafeTensors.Open(path);
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in model.Parameters)
            foreach (var prefix in new[] { "exp_avg.", "exp_avg_sq.", "step." }) expected.Add(prefix + p.Name);
        foreach (var t in moments.Tensors)
            if (!expected.Contains(t.Name)) throw new ModelFileException(path, $"tensor '{t.Name}' is not the optimizer state of any parameter of the model");

        optimizer.State.Clear();
        foreach (var p in model.Parameters)
        {
            var stepName = "step." + p.Name;
            if (!moments.Contains(stepName))
            {
                // never stepped (no gradient yet, or frozen): then it has no moments either
                foreach (var orphan in new[] { "exp_avg." + p.Name, "exp_avg_sq." + p.Name })
                    if (moments.Contains(orphan)) throw new ModelFileException(path, $"'{orphan}' has no '{stepName}' beside it");
                continue;
            }
            var stepInfo = moments.Info(stepName);
            if (stepInfo.DType != TensorDType.I64 || stepInfo.ElementCount != 1)
                throw new ModelFileException(path, $"'{stepName}' is {stepInfo.DType} {stepInfo.ShapeText}, not an I64 scalar");
            long step = moments.ReadInt64(stepName)[0];
            if (step < 1 || step > globalStep)
                throw new ModelFileException(path, $"'{stepName}' is {step}, outside [1, {globalStep}] (the run's global_step)");

            var expAvg = new float[p.Length];
            var expAvgSq = new float[p.Length];
            foreach (var (name, into, nonNegative) in new[] { ("exp_avg." + p.Name, expAvg, false), ("exp_avg_sq." + p.Name, expAvgSq, true) })
            {
                if (!moments.Contains(name)) throw new ModelFileException(path, $"no tensor '{name}'");
                var info = moments.Info(name);
                bool flat = info.Shape.Length == 1 && info.Shape[0] == p.Length;
                bool shaped = info.Shape.Length == p.Shape.Length && info.Shape.Zip(p.Shape).All(d => d.First == d.Second);
                if (info.DType != TensorDType.F32 || !(flat || shaped))
                    throw new ModelFileException(path, $"'{name}' is {info.DType} {info.ShapeText}, the parameter is F32 {p.ShapeText} ({p.Length} elements)");
                moments.ReadFloat32(name, into);
                int bad = nonNegative ? Array.FindIndex(into, v => !(v >= 0) || float.IsPositiveInfinity(v)) : Array.FindIndex(into, v => !float.IsFinite(v));
                if (bad >= 0) throw new ModelFileException(path, $"'{name}' holds {into[bad]} at element {bad}{(nonNegative ? ", not a finite number ≥ 0" : "")}");
            }
            optimizer.State[p.Name] = (expAvg, expAvgSq, step);
        }
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
