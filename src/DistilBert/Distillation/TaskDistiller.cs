using DistilBert.Data;
using DistilBert.Metrics;
using DistilBert.Modeling;
using DistilBert.Pipelines;
using DistilBert.Tokenization;
using DistilBert.Training;

namespace DistilBert.Distillation;

/// <summary>Settings of task-specific distillation. Optimizer defaults are HF Trainer's, except the learning rate.</summary>
public sealed record TaskDistillationOptions
{
    /// <summary>Weight of the soft-target term; 1 − α goes to the hard labels.</summary>
    public float Alpha { get; init; } = 0.5f;
    public float Temperature { get; init; } = 2f;
    public int BatchSize { get; init; } = 32;
    public int GradientAccumulation { get; init; } = 1;
    public int Epochs { get; init; } = 3;
    public int? MaxSteps { get; init; }
    public double LearningRate { get; init; } = 1e-4;
    public double WarmupRatio { get; init; } = 0.1;
    public double MaxGradNorm { get; init; } = 1.0;
    public double WeightDecay { get; init; } = 0.01;
    public double AdamEps { get; init; } = 1e-8;
    public int Seed { get; init; } = 42;
    /// <summary>Write a resumable checkpoint every N optimizer steps (0: at each epoch end and at the end).</summary>
    public int SaveEvery { get; init; }

    /// <summary>The training-loop settings these options carry (optimizer, schedule, clipping, checkpoints).</summary>
    public TrainingOptions ToTrainingOptions() => new()
    {
        BatchSize = BatchSize, GradientAccumulation = GradientAccumulation, Epochs = Epochs, MaxSteps = MaxSteps,
        LearningRate = LearningRate, WarmupRatio = WarmupRatio, MaxGradNorm = MaxGradNorm,
        WeightDecay = WeightDecay, Eps = AdamEps, Seed = Seed, SaveEvery = SaveEvery,
    };

    public void Validate()
    {
        ToTrainingOptions().Validate();
        if (Alpha is < 0 or > 1) throw new InvalidInputException($"alpha (the soft-target weight) must be in [0, 1], got {Alpha}");
        if (!(Temperature > 0)) throw new InvalidInputException($"temperature must be positive, got {Temperature}");
    }
}

/// <summary>One tokenized task example: ids with [CLS]/[SEP], and its hard labels (one per sequence, or one per token
/// with −100 on sub-tokens and specials). Token tasks also keep the word each labelled token starts and the gold tags.</summary>
public sealed record TaskExample(int[] Ids, int[] Labels, string[]? GoldTags = null, int[]? FirstTokenOfWord = null, int[]? TypeIds = null,
    QuestionWindow? Question = null);

/// <summary>What evaluating an extractive-QA example needs: the context, each token's character span in it, which
/// tokens are context, and the gold answers.</summary>
public sealed record QuestionWindow(string Context, (int Start, int End)[] Offsets, bool[] IsContext, string[] Answers);

/// <summary>Task data read and tokenized for distillation and evaluation, labels mapped through the teacher's label2id.</summary>
public static class TaskDataset
{
    public static List<TaskExample> Classification(string path, WordPieceTokenizer tokenizer, ModelConfig labels, int maxLength)
    {
        var options = new EncodeOptions { MaxLength = maxLength, Truncation = TruncationStrategy.LongestFirst };
        var result = new List<TaskExample>();
        foreach (var e in TextClassificationReader.Read(path))
        {
            if (e.Label is null) throw new DataFileException(path, e.Line, "has no label: task distillation needs labelled examples");
            var encoded = tokenizer.Encode(e.Text, e.TextPair, options);
            result.Add(new TaskExample(encoded.Ids, [LabelId(labels, e.Label, path, e.Line)], TypeIds: encoded.TypeIds));
        }
        if (result.Count == 0) throw new DataFileException(path, null, "has no examples");
        return result;
    }

    /// <summary>CoNLL sentences: each word's first sub-token carries its tag, the rest −100; words past the
    /// length limit are not seen (predicted "O" at evaluation).</summary>
    public static List<TaskExample> Tokens(string path, WordPieceTokenizer tokenizer, ModelConfig labels, int maxLength)
    {
        var noSpecials = new EncodeOptions { AddSpecialTokens = false };
        var result = new List<TaskExample>();
        foreach (var s in ConllReader.Read(path))
        {
            var ids = new List<int> { tokenizer.ClsId };
            var tags = new List<int> { DistillationLoss.IgnoreIndex };
            var first = new int[s.Tokens.Length];
            for (int w = 0; w < s.Tokens.Length; w++)
            {
                var pieces = tokenizer.Encode(s.Tokens[w], options: noSpecials).Ids;
                if (pieces.Length == 0 || ids.Count + pieces.Length > maxLength - 1) { first[w] = -1; continue; }
                first[w] = ids.Count;
                for (int p = 0; p < pieces.Length; p++)
                {
                    ids.Add(pieces[p]);
                    tags.Add(p == 0 ? LabelId(labels, s.Tags[w], path, s.Line) : DistillationLoss.IgnoreIndex);
                }
            }
            ids.Add(tokenizer.SepId);
            tags.Add(DistillationLoss.IgnoreIndex);
            result.Add(new TaskExample(ids.ToArray(), tags.ToArray(), s.Tags, first));
        }
        if (result.Count == 0) throw new DataFileException(path, null, "has no sentences");
        return result;
    }

    /// <summary>
    /// SQuAD v1.1: one window per question ([CLS] question [SEP] context [SEP], the context truncated to fit); labels are
    /// the start and end token of the first answer, or [CLS] (0, 0) when the window cut it off — as HF's preprocessing.
    /// </summary>
    public static List<TaskExample> Squad(string path, WordPieceTokenizer tokenizer, int maxLength)
    {
        var options = new EncodeOptions { MaxLength = maxLength, Truncation = TruncationStrategy.OnlySecond };
        var result = new List<TaskExample>();
        foreach (var e in SquadReader.Read(path))
        {
            var encoded = tokenizer.Encode(e.Question, e.Context, options);
            var isContext = encoded.SequenceIds.Select(id => id == 1).ToArray();
            int start = 0, end = 0;
            if (e.Answers.Length > 0)
            {
                var answer = e.Answers[0];
                int charStart = answer.Start, charEnd = answer.Start + answer.Text.Length;
                int first = Array.IndexOf(isContext, true), last = Array.LastIndexOf(isContext, true);
                if (first >= 0 && encoded.Offsets[first].Start <= charStart && encoded.Offsets[last].End >= charEnd)
                {
                    start = first;
                    while (start + 1 <= last && encoded.Offsets[start + 1].Start <= charStart) start++;
                    end = last;
                    while (end - 1 >= start && encoded.Offsets[end - 1].End >= charEnd) end--;
                }
            }
            result.Add(new TaskExample(encoded.Ids, [start, end], TypeIds: encoded.TypeIds,
                Question: new QuestionWindow(e.Context, encoded.Offsets, isContext, e.Answers.Select(a => a.Text).ToArray())));
        }
        if (result.Count == 0) throw new DataFileException(path, null, "has no questions");
        return result;
    }

    /// <summary>The teacher's id for a label name; a number is taken as the id itself (SST-2's 0/1 with LABEL_0/LABEL_1 configs).</summary>
    static int LabelId(ModelConfig config, string label, string path, long line)
    {
        if (config.Label2Id.TryGetValue(label, out int id)) return id;
        if (int.TryParse(label, out id) && config.Id2Label.ContainsKey(id)) return id;
        throw new DataFileException(path, line, $"label '{label}' is not one of the teacher's labels ({string.Join(", ", config.Label2Id.Keys)})");
    }
}

/// <summary>
/// Task-specific distillation: a fine-tuned teacher teaches a student on task data with
/// α·T²·KL(teacher ‖ student at T) + (1 − α)·CE(hard labels) (<see cref="TaskDistillationLoss"/>). The teacher's logits
/// are computed once per example (eval mode: deterministic) and cached. It is an <see cref="ITrainingTask"/>: the shared
/// loop evaluates the student after each epoch (accuracy, or entity F1), keeps the best, checkpoints and resumes.
/// </summary>
public sealed class TaskDistiller : ITrainingTask
{
    readonly TransformerModel _teacher;
    readonly IReadOnlyList<TaskExample> _train;
    readonly IReadOnlyList<TaskExample>? _eval;
    readonly Dictionary<int, float[]> _teacherLogits = new();
    readonly int _classes;

    public DistillationTaskKind Kind { get; }
    public TransformerModel Student { get; }
    public TaskDistillationOptions Options { get; }
    public TransformerModel Model => Student;
    public IReadOnlyList<int> ExampleLengths { get; }
    public IReadOnlyList<string> FilesToCopy { get; }
    /// <summary>Soft and hard terms (before their weights) of the last micro-batch, for displays.</summary>
    public (double Soft, double Hard) LastTerms { get; private set; }

    public TaskDistiller(DistillationTaskKind kind, TransformerModel teacher, TransformerModel student,
        IReadOnlyList<TaskExample> train, IReadOnlyList<TaskExample>? eval, TaskDistillationOptions options, IReadOnlyList<string>? filesToCopy = null)
    {
        options.Validate();
        var head = TaskStudent.Head(kind);
        string suffix = ModelArchitecture.HeadSuffix(head);
        if (teacher.Head != head)
            throw new InvalidInputException($"the teacher is {teacher.ArchitectureName}: a {Describe(kind)} teacher must be a …{suffix} model");
        if (student.Head != head)
            throw new InvalidInputException($"the student is {student.ArchitectureName}: a {Describe(kind)} student must be a …{suffix} model");
        if (kind != DistillationTaskKind.QuestionAnswering && teacher.Config.NumLabels != student.Config.NumLabels)
            throw new InvalidInputException($"the teacher has {teacher.Config.NumLabels} labels, the student {student.Config.NumLabels}");
        if (teacher.Config.VocabSize != student.Config.VocabSize)
            throw new InvalidInputException($"teacher and student vocabularies differ: vocab_size {teacher.Config.VocabSize} vs {student.Config.VocabSize}");
        Kind = kind;
        _teacher = teacher;
        Student = student;
        _train = train;
        _eval = eval;
        _classes = kind == DistillationTaskKind.QuestionAnswering ? 2 : teacher.Config.NumLabels;
        Options = options;
        ExampleLengths = train.Select(e => e.Ids.Length).ToArray();
        FilesToCopy = filesToCopy ?? [];
    }

    static string Describe(DistillationTaskKind kind) => kind switch
    {
        DistillationTaskKind.Classification => "classification",
        DistillationTaskKind.TokenClassification => "token-classification",
        _ => "question-answering",
    };

    public TrainingOptions TrainingOptions => Options.ToTrainingOptions();

    public TrainingPlan Plan() => new Trainer(this, TrainingOptions, Path.GetTempPath()).Plan();

    /// <summary>Distils into <paramref name="runDirectory"/> (checkpoints, metrics.jsonl, best/; at the end the folder is
    /// the best student's HF model folder).</summary>
    public TrainingResult Run(string runDirectory, bool resume = false, ITrainingObserver? observer = null, CancellationToken cancellation = default)
    {
        _teacher.PrepareForInference();
        return new Trainer(this, TrainingOptions, runDirectory, observer).Run(resume, cancellation);
    }

    /// <summary>Forward/backward of the training examples <paramref name="batch"/>, gradients × <paramref name="lossScale"/>.</summary>
    public BatchResult ForwardBackward(int[] batch, float lossScale, BatchPosition position)
    {
        CacheTeacherLogits(batch);
        if (Kind == DistillationTaskKind.QuestionAnswering) return QuestionForwardBackward(batch, lossScale);
        var input = ModelInput.FromSequences(batch.Select(i => _train[i].Ids).ToList());
        var studentLogits = Student.Forward(input)["logits"].Data;
        var teacherLogits = new float[studentLogits.Length];
        var labels = new List<int>(studentLogits.Length / _classes);
        int at = 0;
        foreach (var i in batch)
        {
            var t = _teacherLogits[i];
            t.CopyTo(teacherLogits, at);
            at += t.Length;
            labels.AddRange(_train[i].Labels);
        }
        var labelArray = labels.ToArray();
        // Token tasks: soft targets where the hard labels are (first sub-tokens); sequence tasks: every row.
        var soft = Kind == DistillationTaskKind.TokenClassification ? Array.ConvertAll(labelArray, l => l != DistillationLoss.IgnoreIndex) : [];
        var grad = new float[studentLogits.Length];
        var (loss, softTerm, hardTerm) = TaskDistillationLoss.Compute(studentLogits, teacherLogits, _classes, labelArray, soft, Options.Alpha, Options.Temperature, grad);
        Student.BackwardFromOutputs(grad, null, lossScale);
        LastTerms = (softTerm, hardTerm);
        return new BatchResult(loss, input.Tokens, new Dictionary<string, double> { ["soft"] = LastTerms.Soft, ["hard"] = LastTerms.Hard });
    }

    /// <summary>
    /// QA: for start and for end, each sequence's logits over its own tokens form one distribution; the loss is the mean
    /// over sequences of (start + end)/2, as HF's QA loss averages the two. Gradients go back as qa_outputs' [tokens, 2].
    /// </summary>
    BatchResult QuestionForwardBackward(int[] batch, float lossScale)
    {
        var input = ModelInput.FromSequences(batch.Select(i => _train[i].Ids).ToList());
        var output = Student.Forward(input);
        var start = output["start_logits"].Data;
        var end = output["end_logits"].Data;
        var grad = new float[input.Tokens * 2];
        double loss = 0, soft = 0, hard = 0;
        int at = 0;
        float weight = 0.5f / batch.Length;
        foreach (var i in batch)
        {
            int n = _train[i].Ids.Length;
            var teacher = _teacherLogits[i]; // [n start logits, n end logits]
            for (int which = 0; which < 2; which++)
            {
                var studentRow = (which == 0 ? start : end).AsSpan(at, n);
                var rowGrad = new float[n];
                var (l, sTerm, hTerm) = TaskDistillationLoss.Compute(studentRow, teacher.AsSpan(which * n, n), n, [_train[i].Labels[which]], [],
                    Options.Alpha, Options.Temperature, rowGrad);
                loss += weight * l; soft += weight * sTerm; hard += weight * hTerm;
                for (int t = 0; t < n; t++) grad[2 * (at + t) + which] = weight * rowGrad[t];
            }
            at += n;
        }
        Student.BackwardFromOutputs(grad, null, lossScale);
        LastTerms = (soft, hard);
        return new BatchResult(loss, input.Tokens, new Dictionary<string, double> { ["soft"] = LastTerms.Soft, ["hard"] = LastTerms.Hard });
    }

    /// <summary>Teacher logits are computed in fixed chunks of consecutive examples, whatever batch first needs them: the
    /// floats then do not depend on the batch order, so a resumed run sees exactly the same soft targets.</summary>
    const int TeacherChunk = 32;

    void CacheTeacherLogits(int[] batch)
    {
        foreach (var chunk in batch.Select(i => i / TeacherChunk).Distinct().Order())
        {
            if (_teacherLogits.ContainsKey(chunk * TeacherChunk)) continue;
            int from = chunk * TeacherChunk, to = Math.Min(_train.Count, from + TeacherChunk);
            TeacherForward(Enumerable.Range(from, to - from).ToArray());
        }
    }

    void TeacherForward(int[] missing)
    {
        _teacher.Eval();
        // BERT teachers read the token types of pairs; DistilBERT has none.
        var types = _teacher.UsesTokenTypes && missing.All(i => _train[i].TypeIds is not null) ? missing.Select(i => _train[i].TypeIds!).ToList() : null;
        var output = _teacher.Forward(ModelInput.FromSequences(missing.Select(i => _train[i].Ids).ToList(), types));
        int at = 0;
        if (Kind == DistillationTaskKind.QuestionAnswering)
        {
            var start = output["start_logits"].Data;
            var end = output["end_logits"].Data;
            foreach (var i in missing)
            {
                int n = _train[i].Ids.Length;
                _teacherLogits[i] = [.. start.AsSpan(at, n), .. end.AsSpan(at, n)];
                at += n;
            }
            return;
        }
        var logits = output["logits"].Data;
        foreach (var i in missing)
        {
            int rows = Kind == DistillationTaskKind.Classification ? 1 : _train[i].Ids.Length;
            _teacherLogits[i] = logits.AsSpan(at, rows * _classes).ToArray();
            at += rows * _classes;
        }
    }

    /// <summary>The student on the evaluation data (null without it); the loop keeps the best.</summary>
    public EvaluationResult? Evaluate() =>
        _eval is null ? null : new EvaluationResult(Evaluate(Student, _eval), MainMetric(Kind));

    public static string MainMetric(DistillationTaskKind kind) => kind == DistillationTaskKind.Classification ? "accuracy" : "f1";

    /// <summary>The best answer of one window, decoded exactly as the QA pipeline decodes it, with the evaluation's
    /// answer-length limit (<see cref="Evaluation.SquadMaxAnswerTokens"/>).</summary>
    static string BestAnswer(QuestionWindow q, ReadOnlySpan<float> start, ReadOnlySpan<float> end)
    {
        var noWords = new int[start.Length];
        Array.Fill(noWords, -1);
        var window = new AnswerWindow(start.ToArray(), end.ToArray(), q.IsContext, q.Offsets, noWords);
        var best = QuestionAnsweringDecoder.Decode(q.Context, [window], topK: 1, maxAnswerLength: Evaluation.SquadMaxAnswerTokens, alignToWords: false);
        return best.Count == 0 ? "" : best[0].Answer;
    }

    /// <summary>Scores <paramref name="model"/> (teacher or student) on labelled examples: accuracy and macro F1, or
    /// entity precision/recall/F1 from each word's first sub-token.</summary>
    public Dictionary<string, double> Evaluate(TransformerModel model, IReadOnlyList<TaskExample> examples, int batchSize = 64)
    {
        bool wasTraining = model.IsTraining, dropout = model.DropoutActive;
        model.Eval();
        var names = model.Config.Id2Label;
        var classification = new ClassificationMetrics();
        var entities = new EntityMetrics();
        var squad = new SquadMetrics();
        foreach (var batch in Training.Batching.Sequential(examples.Count, batchSize))
        {
            var types = model.UsesTokenTypes && batch.All(i => examples[i].TypeIds is not null) ? batch.Select(i => examples[i].TypeIds!).ToList() : null;
            var output = model.Forward(ModelInput.FromSequences(batch.Select(i => examples[i].Ids).ToList(), types));
            if (Kind == DistillationTaskKind.QuestionAnswering)
            {
                var start = output["start_logits"].Data;
                var end = output["end_logits"].Data;
                int at = 0;
                foreach (var i in batch)
                {
                    int n = examples[i].Ids.Length;
                    var q = examples[i].Question!;
                    squad.Add(BestAnswer(q, start.AsSpan(at, n), end.AsSpan(at, n)), q.Answers);
                    at += n;
                }
                continue;
            }
            var logits = output["logits"].Data;
            int row = 0;
            foreach (var i in batch)
            {
                var e = examples[i];
                if (Kind == DistillationTaskKind.Classification)
                {
                    classification.Add(names[e.Labels[0]], names[ArgMax(logits.AsSpan(row * _classes, _classes))]);
                    row++;
                }
                else
                {
                    var predicted = new string[e.GoldTags!.Length];
                    for (int w = 0; w < predicted.Length; w++)
                        predicted[w] = e.FirstTokenOfWord![w] < 0 ? "O" : names[ArgMax(logits.AsSpan((row + e.FirstTokenOfWord[w]) * _classes, _classes))];
                    entities.Add(e.GoldTags, predicted);
                    row += e.Ids.Length;
                }
            }
        }
        if (wasTraining) model.Train(dropout);
        if (Kind == DistillationTaskKind.Classification)
        {
            var r = classification.Report();
            return new() { ["accuracy"] = r.Accuracy, ["macro_f1"] = r.MacroF1, ["examples"] = r.Count };
        }
        if (Kind == DistillationTaskKind.QuestionAnswering)
        {
            var sr = squad.Report();
            return new() { ["f1"] = sr.F1, ["exact_match"] = sr.ExactMatch, ["questions"] = sr.Count };
        }
        var er = entities.Report();
        return new() { ["f1"] = er.F1, ["precision"] = er.Precision, ["recall"] = er.Recall, ["token_accuracy"] = er.TokenAccuracy, ["sentences"] = er.Sentences };
    }

    static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int c = 1; c < row.Length; c++) if (row[c] > row[best]) best = c;
        return best;
    }
}
