using DistilBert.Data;
using DistilBert.Modeling;
using DistilBert.Pipelines;
using DistilBert.Tokenization;

namespace DistilBert.Training;

/// <summary>
/// Fine-tuning for token classification (NER) on CoNLL sentences, as HF's run_ner example: the words are joined with
/// spaces and encoded (truncated to max length); the first sub-token of each word carries the word's tag, every other
/// token (later sub-tokens, [CLS], [SEP]) has label −100. Evaluation: seqeval entity F1 through the token
/// classification pipeline (each word tagged by its first token); the main metric is F1.
/// </summary>
public sealed class TokenClassificationTraining : ITrainingTask
{
    readonly WordPieceTokenizer _tokenizer;
    readonly int[][] _ids;
    readonly long[][] _labels;
    readonly IReadOnlyList<TaggedSentence>? _eval;
    readonly int _maxLength;

    public TransformerModel Model { get; }
    public IReadOnlyList<int> ExampleLengths { get; }
    public IReadOnlyList<string> FilesToCopy { get; }

    public TokenClassificationTraining(TransformerModel model, WordPieceTokenizer tokenizer, IReadOnlyList<TaggedSentence> train,
        IReadOnlyList<TaggedSentence>? eval, int maxLength, IReadOnlyList<string>? filesToCopy = null, string? trainPath = null)
    {
        if (model.Head != ModelHead.TokenClassification)
            throw new InvalidInputException($"NER training needs a …ForTokenClassification model, got {model.ArchitectureName}");
        Model = model;
        _tokenizer = tokenizer;
        _eval = eval;
        _maxLength = maxLength;
        FilesToCopy = filesToCopy ?? [];
        var label2Id = model.Config.Label2Id;
        var options = new EncodeOptions { MaxLength = maxLength, Truncation = TruncationStrategy.LongestFirst };
        _ids = new int[train.Count][];
        _labels = new long[train.Count][];
        for (int i = 0; i < train.Count; i++)
        {
            var sentence = train[i];
            var tagIds = new int[sentence.Tags.Length];
            for (int w = 0; w < tagIds.Length; w++)
                tagIds[w] = label2Id.TryGetValue(sentence.Tags[w], out var id) ? id
                    : throw new DataFileException(trainPath, sentence.Line + w, $"tag '{sentence.Tags[w]}' is not a label of the model ({string.Join(", ", label2Id.Keys)})");
            var (text, spans) = WordTags.Join(sentence.Tokens);
            var encoded = tokenizer.Encode(text, null, options);
            _ids[i] = encoded.Ids;
            _labels[i] = AlignLabels(encoded, spans, tagIds);
        }
        ExampleLengths = Array.ConvertAll(_ids, s => s.Length);
    }

    /// <summary>[tokens] labels: the word's tag id on the first token that starts inside the word, −100 elsewhere.</summary>
    /// <param name="wordSpans">[words] character spans of the words in the encoded text</param>
    public static long[] AlignLabels(EncodedText encoded, IReadOnlyList<(int Start, int End)> wordSpans, IReadOnlyList<int> tagIds)
    {
        var labels = new long[encoded.Length];
        Array.Fill(labels, -100L);
        var starts = wordSpans.Select(s => s.Start).ToArray();
        int previousWord = -1;
        for (int t = 0; t < encoded.Length; t++)
        {
            if (encoded.SpecialTokensMask[t] != 0) continue;
            int word = Array.BinarySearch(starts, encoded.Offsets[t].Start);
            if (word < 0) word = ~word - 1;
            if (word < 0 || encoded.Offsets[t].Start >= wordSpans[word].End || word == previousWord) continue;
            labels[t] = tagIds[word];
            previousWord = word;
        }
        return labels;
    }

    public BatchResult ForwardBackward(int[] batch, float lossScale, BatchPosition position)
    {
        var input = ModelInput.FromSequences(batch.Select(i => _ids[i]).ToList());
        input.Labels = batch.SelectMany(i => _labels[i]).ToArray();
        var output = Model.Forward(input);
        double loss = output.Loss!.Value;
        if (input.Labels.Any(l => l != -100)) Model.Backward(lossScale);
        else loss = 0; // a batch with no labelled token (all words lost to truncation/normalisation) has nothing to learn
        return new BatchResult(loss, input.Tokens);
    }

    public EvaluationResult? Evaluate()
    {
        if (_eval is null || _eval.Count == 0) return null;
        var pipeline = new TokenClassificationPipeline(_tokenizer, Model, new PipelineSettings { MaxLength = _maxLength });
        var report = Evaluation.Entities(pipeline, _eval);
        return new EvaluationResult(new Dictionary<string, double>
        {
            ["f1"] = report.F1, ["precision"] = report.Precision, ["recall"] = report.Recall, ["token_accuracy"] = report.TokenAccuracy,
        }, "f1");
    }
}
