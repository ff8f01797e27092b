using DistilBert.Modeling;
using DistilBert.Tokenization;

namespace DistilBert.Tests;

/// <summary>
/// What a sequence classifier says about texts, computed without the pipelines, the CLI or the evaluators the tests
/// check: tokenizer and model (both pinned by the golden tests) one text at a time, softmax in double here.
/// </summary>
static class IndependentPredictions
{
    /// <summary>Per text: the argmax label id and its softmax probability.</summary>
    public static (int Label, double Score)[] Classify(string folder, IEnumerable<string> texts, int maxLength = 512)
    {
        var tokenizer = WordPieceTokenizer.FromFolder(folder);
        var model = PretrainedModel.Load(folder).Model;
        model.Eval();
        var options = new EncodeOptions { MaxLength = maxLength, Truncation = TruncationStrategy.LongestFirst };
        return texts.Select(text =>
        {
            var encoding = tokenizer.Encode(text, null, options);
            var logits = model.Forward(ModelInput.FromSequences([encoding.Ids], model.Config is BertConfig ? [encoding.TypeIds] : null))["logits"].Data;
            int best = 0;
            for (int c = 1; c < logits.Length; c++) if (logits[c] > logits[best]) best = c;
            double sum = logits.Sum(v => Math.Exp(v - logits[best]));
            return (best, 1 / sum);
        }).ToArray();
    }

    /// <summary>Texts and integer labels of a "sentence\tlabel" file with a header line.</summary>
    public static (string Text, int Label)[] ReadTsv(string path) =>
        File.ReadLines(path).Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t')).Select(f => (f[0], int.Parse(f[1]))).ToArray();

    public static double Accuracy(string folder, (string Text, int Label)[] examples, int maxLength = 512)
    {
        var predicted = Classify(folder, examples.Select(e => e.Text), maxLength);
        return examples.Zip(predicted).Count(p => p.First.Label == p.Second.Label) / (double)examples.Length;
    }
}
