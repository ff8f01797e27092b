using DistilBert.Pipelines;

namespace DistilBert.Tests;

public sealed class PipelineDecodingTests
{
    // Logits whose softmax is exactly the given probabilities (they sum to 1).
    static float[] LogitsOf(params double[][] rows) => rows.SelectMany(r => r.Select(p => (float)Math.Log(p))).ToArray();

    static readonly string[] NerLabels = ["O", "B-ORG", "I-ORG", "B-PER", "I-PER"];
    const string NerText = "Microsoft hired Ann Lee";

    static readonly TokenSpan[] NerTokens =
    [
        new("[CLS]", 0, 0, IsSpecial: true), new("micro", 0, 5), new("##soft", 5, 9), new("hired", 10, 15),
        new("ann", 16, 19), new("lee", 20, 23), new("[SEP]", 0, 0, IsSpecial: true),
    ];

    static readonly float[] NerLogits = LogitsOf(
        [0.2, 0.2, 0.2, 0.2, 0.2],          // [CLS]: ignored
        [0.1, 0.6, 0.1, 0.1, 0.1],          // micro  → B-ORG 0.6
        [0.05, 0.05, 0.05, 0.05, 0.8],      // ##soft → I-PER 0.8
        [0.9, 0.025, 0.025, 0.025, 0.025],  // hired  → O
        [0.1, 0.1, 0.1, 0.6, 0.1],          // ann    → B-PER 0.6
        [0.1, 0.1, 0.1, 0.1, 0.6],          // lee    → I-PER 0.6
        [0.2, 0.2, 0.2, 0.2, 0.2]);         // [SEP]

    static List<TokenEntity> Ner(AggregationStrategy strategy) =>
        TokenClassificationDecoder.DecodeWindow(NerText, NerLogits, NerTokens, NerLabels, strategy);

    static (string Label, string Word, int Start, int End, float Score)[] Summary(List<TokenEntity> entities) =>
        entities.Select(e => (e.Label, e.Word, e.Start, e.End, MathF.Round(e.Score, 4))).ToArray();

    [Fact]
    public void Ner_none_gives_one_entity_per_non_O_token_with_its_vocabulary_string_and_index()
    {
        var entities = Ner(AggregationStrategy.None);
        Assert.Equal([("B-ORG", "micro", 0, 5, 0.6f), ("I-PER", "##soft", 5, 9, 0.8f), ("B-PER", "ann", 16, 19, 0.6f), ("I-PER", "lee", 20, 23, 0.6f)], Summary(entities));
        Assert.Equal([1, 2, 4, 5], entities.Select(e => e.Index!.Value));
        Assert.All(entities, e => Assert.Null(e.EntityGroup));
    }

    [Fact]
    public void Ner_simple_groups_B_I_runs_and_may_split_a_word_as_hf_documents()
    {
        // HF's docs: "Microsoft" can come out as [Micro: ENTERPRISE, soft: NAME] with "simple".
        Assert.Equal([("ORG", "Micro", 0, 5, 0.6f), ("PER", "soft", 5, 9, 0.8f), ("PER", "Ann Lee", 16, 23, 0.6f)], Summary(Ner(AggregationStrategy.Simple)));
        Assert.All(Ner(AggregationStrategy.Simple), e => Assert.Null(e.Entity));
    }

    [Fact]
    public void Ner_first_average_max_keep_words_whole()
    {
        Assert.Equal([("ORG", "Microsoft", 0, 9, 0.6f), ("PER", "Ann Lee", 16, 23, 0.6f)], Summary(Ner(AggregationStrategy.First)));
        Assert.Equal([("PER", "Microsoft", 0, 9, 0.8f), ("PER", "Ann Lee", 16, 23, 0.6f)], Summary(Ner(AggregationStrategy.Max)));
        // average: mean(micro, ##soft) = [0.075, 0.325, 0.075, 0.075, 0.45] → I-PER 0.45.
        Assert.Equal([("PER", "Microsoft", 0, 9, 0.45f), ("PER", "Ann Lee", 16, 23, 0.6f)], Summary(Ner(AggregationStrategy.Average)));
    }

    [Fact]
    public void Ner_simple_matches_hf_docstring_example_two_consecutive_B_tags_stay_apart()
    {
        // HF: (A, B-TAG), (B, I-TAG), (C, I-TAG), (D, B-TAG2), (E, B-TAG2) → [ABC: TAG, D: TAG2, E: TAG2].
        string[] labels = ["O", "B-TAG", "I-TAG", "B-TAG2"];
        const string text = "A B C D E";
        var tokens = Enumerable.Range(0, 5).Select(i => new TokenSpan(text[2 * i].ToString(), 2 * i, 2 * i + 1)).ToArray();
        var logits = LogitsOf([0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1], [0.1, 0.1, 0.7, 0.1], [0.1, 0.1, 0.1, 0.7], [0.1, 0.1, 0.1, 0.7]);
        var groups = TokenClassificationDecoder.DecodeWindow(text, logits, tokens, labels, AggregationStrategy.Simple);
        Assert.Equal([("TAG", "A B C", 0, 5, 0.7f), ("TAG2", "D", 6, 7, 0.7f), ("TAG2", "E", 8, 9, 0.7f)], Summary(groups));
    }

    [Fact]
    public void Ner_labels_without_prefix_merge_when_adjacent_and_ignore_labels_is_honoured()
    {
        string[] labels = ["O", "PER"];
        const string text = "Ann Lee";
        TokenSpan[] tokens = [new("Ann", 0, 3), new("Lee", 4, 7)];
        var logits = LogitsOf([0.2, 0.8], [0.4, 0.6]);
        var merged = TokenClassificationDecoder.DecodeWindow(text, logits, tokens, labels, AggregationStrategy.Simple);
        Assert.Equal([("PER", "Ann Lee", 0, 7, 0.7f)], Summary(merged));
        var keepAll = TokenClassificationDecoder.DecodeWindow(text, logits, tokens, labels, AggregationStrategy.None, ignoreLabels: []);
        Assert.Equal(2, keepAll.Count);
        var noPer = TokenClassificationDecoder.DecodeWindow(text, logits, tokens, labels, AggregationStrategy.None, ignoreLabels: ["PER"]);
        Assert.Empty(noPer);
    }

    [Fact]
    public void Ner_unknown_token_takes_its_word_from_the_text_and_is_never_a_subword()
    {
        string[] labels = ["O", "B-PER"];
        const string text = "Zoë";
        TokenSpan[] tokens = [new("[UNK]", 0, 3, IsUnknown: true)];
        var entity = Assert.Single(TokenClassificationDecoder.DecodeWindow(text, LogitsOf([0.1, 0.9]), tokens, labels, AggregationStrategy.None));
        Assert.Equal("Zoë", entity.Word);
        var first = Assert.Single(TokenClassificationDecoder.DecodeWindow(text, LogitsOf([0.1, 0.9]), tokens, labels, AggregationStrategy.First));
        Assert.Equal(("PER", "Zoë"), (first.EntityGroup, first.Word));
    }

    [Fact]
    public void Ner_overlapping_windows_keep_the_longer_then_the_higher_scoring_entity()
    {
        string[] labels = ["O", "B-LOC", "I-LOC"];
        const string text = "to New York City now";
        // Window 1 sees "New York" (cut at the window edge); window 2 sees "New York City".
        TokenSpan[] w1 = [new("[CLS]", 0, 0, true), new("to", 0, 2), new("New", 3, 6), new("York", 7, 11), new("[SEP]", 0, 0, true)];
        TokenSpan[] w2 = [new("[CLS]", 0, 0, true), new("New", 3, 6), new("York", 7, 11), new("City", 12, 16), new("now", 17, 20), new("[SEP]", 0, 0, true)];
        var l1 = LogitsOf([1.0 / 3, 1.0 / 3, 1.0 / 3], [0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [1.0 / 3, 1.0 / 3, 1.0 / 3]);
        var l2 = LogitsOf([1.0 / 3, 1.0 / 3, 1.0 / 3], [0.1, 0.6, 0.3], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8], [0.9, 0.05, 0.05], [1.0 / 3, 1.0 / 3, 1.0 / 3]);
        var merged = TokenClassificationDecoder.Decode(text, [(l1, w1), (l2, w2)], labels, AggregationStrategy.Simple);
        Assert.Equal([("LOC", "New York City", 3, 16, MathF.Round((0.6f + 0.8f + 0.8f) / 3, 4))], Summary(merged));

        // Equal length: the higher score wins; disjoint entities are all kept, in text order.
        var a = new TokenEntity { EntityGroup = "LOC", Score = 0.5f, Start = 3, End = 11, Word = "New York" };
        var b = a with { Score = 0.7f };
        var c = new TokenEntity { EntityGroup = "PER", Score = 0.9f, Start = 0, End = 2, Word = "to" };
        Assert.Equal([c, b], TokenClassificationDecoder.MergeOverlapping([a, b, c]));
    }

    // --- question answering ---------------------------------------------------------------------------------

    const string QaContext = "Eiffel Tower is in Paris.";

    // [CLS] where is [SEP] eif ##fel tower is in paris . [SEP]
    static AnswerWindow QaWindow(float[] start, float[] end) => new(start, end,
        IsContext: [false, false, false, false, true, true, true, true, true, true, true, false],
        Offsets: [(0, 0), (0, 5), (6, 8), (0, 0), (0, 3), (3, 6), (7, 12), (13, 15), (16, 18), (19, 24), (24, 25), (0, 0)],
        WordIds: [-1, 0, 1, -1, 0, 0, 1, 2, 3, 4, 5, -1]);

    static float[] Peaks(int n, params (int Position, float Logit)[] peaks)
    {
        var logits = new float[n];
        foreach (var (position, logit) in peaks) logits[position] = logit;
        return logits;
    }

    // Reference twin: softmax over [CLS] + context, zero [CLS], brute force over every (s, e) pair.
    static (float Score, int Start, int End) BestSpan(AnswerWindow w, int maxLength)
    {
        double[] P(float[] logits)
        {
            var allowed = Enumerable.Range(0, w.Length).Where(i => i == 0 || w.IsContext[i]).ToArray();
            double max = allowed.Max(i => (double)logits[i]);
            double sum = allowed.Sum(i => Math.Exp(logits[i] - max));
            return Enumerable.Range(0, w.Length).Select(i => i != 0 && w.IsContext[i] ? Math.Exp(logits[i] - max) / sum : 0).ToArray();
        }
        var ps = P(w.StartLogits); var pe = P(w.EndLogits);
        var best = (Score: -1.0, Start: 0, End: 0);
        for (int s = 0; s < w.Length; s++)
            for (int e = s; e < w.Length && e - s < maxLength; e++)
                if (ps[s] * pe[e] > best.Score) best = (ps[s] * pe[e], s, e);
        return ((float)best.Score, best.Start, best.End);
    }

    [Fact]
    public void Qa_best_span_is_widened_to_whole_words_and_scored_as_p_start_times_p_end()
    {
        var window = QaWindow(Peaks(12, (5, 5f), (1, 9f)), Peaks(12, (6, 5f), (2, 9f))); // question tokens peak too: masked out
        var answer = Assert.Single(QuestionAnsweringDecoder.Decode(QaContext, [window]));
        Assert.Equal(("Eiffel Tower", 0, 12), (answer.Answer, answer.Start, answer.End));
        var reference = BestSpan(window, 15);
        Assert.Equal((5, 6), (reference.Start, reference.End));
        Assert.Equal(reference.Score, answer.Score, 5);
        double p = Math.Exp(5) / (Math.Exp(5) + 7); // 8 allowed positions ([CLS] + 7 context), one peak
        Assert.Equal(p * p, answer.Score, 5);

        var unaligned = Assert.Single(QuestionAnsweringDecoder.Decode(QaContext, [window], alignToWords: false));
        Assert.Equal(("fel Tower", 3, 12), (unaligned.Answer, unaligned.Start, unaligned.End));
    }

    [Fact]
    public void Qa_never_returns_end_before_start_or_spans_longer_than_max_answer_len()
    {
        // The end peaks before the start peak; the decoder must still return a valid span, as the brute-force twin.
        var window = QaWindow(Peaks(12, (9, 6f), (4, 2f)), Peaks(12, (5, 6f), (10, 3f), (9, 1f)));
        foreach (int maxLength in new[] { 1, 2, 3, 15 })
        {
            var answer = Assert.Single(QuestionAnsweringDecoder.Decode(QaContext, [window], maxAnswerLength: maxLength, alignToWords: false));
            var reference = BestSpan(window, maxLength);
            Assert.Equal((window.Offsets[reference.Start].Start, window.Offsets[reference.End].End), (answer.Start, answer.End));
            Assert.Equal(reference.Score, answer.Score, 5);
        }
        Assert.Equal("Paris.", QuestionAnsweringDecoder.Decode(QaContext, [window], maxAnswerLength: 2)[0].Answer);
    }

    [Fact]
    public void Qa_handle_impossible_answer_uses_the_cls_score()
    {
        var window = QaWindow(Peaks(12, (0, 8f), (9, 2f)), Peaks(12, (0, 8f), (9, 2f)));
        var withoutNull = Assert.Single(QuestionAnsweringDecoder.Decode(QaContext, [window]));
        Assert.Equal("Paris", withoutNull.Answer);
        var answers = QuestionAnsweringDecoder.Decode(QaContext, [window], topK: 2, handleImpossibleAnswer: true);
        Assert.Equal(new AnswerResult(answers[0].Score, 0, 0, ""), answers[0]);
        double p0 = Math.Exp(8) / (Math.Exp(8) + Math.Exp(2) + 6);
        Assert.Equal(p0 * p0, answers[0].Score, 5);
        Assert.Equal("Paris", answers[1].Answer);
    }

    [Fact]
    public void Qa_top_k_pools_windows_and_widens_words_cut_by_a_window_edge()
    {
        // Window 2 starts in the middle of "Eiffel": only ##fel is in it, yet the answer covers the whole word.
        var first = QaWindow(Peaks(12, (9, 3f)), Peaks(12, (9, 3f)));
        var second = new AnswerWindow(Peaks(5, (1, 6f)), Peaks(5, (2, 6f)),
            IsContext: [false, true, true, true, false], Offsets: [(0, 0), (3, 6), (7, 12), (13, 15), (0, 0)], WordIds: [-1, 0, 1, 2, -1]);
        var answers = QuestionAnsweringDecoder.Decode(QaContext, [first, second], topK: 2);
        Assert.Equal(["Eiffel Tower", "Paris"], answers.Select(a => a.Answer));
        Assert.True(answers[0].Score > answers[1].Score);
    }

    // --- classification and fill-mask ------------------------------------------------------------------------

    [Fact]
    public void Classification_follows_problem_type_and_top_k()
    {
        Assert.Equal(ScoreFunction.Softmax, TextClassificationDecoder.DefaultFunction(null, 2));
        Assert.Equal(ScoreFunction.Sigmoid, TextClassificationDecoder.DefaultFunction(null, 1));
        Assert.Equal(ScoreFunction.Sigmoid, TextClassificationDecoder.DefaultFunction("multi_label_classification", 3));
        Assert.Equal(ScoreFunction.None, TextClassificationDecoder.DefaultFunction("regression", 1));

        string[] labels = ["NEGATIVE", "POSITIVE"];
        var best = Assert.Single(TextClassificationDecoder.Decode([0f, 2f], labels, ScoreFunction.Softmax));
        Assert.Equal("POSITIVE", best.Label);
        Assert.Equal(1 / (1 + Math.Exp(-2)), best.Score, 6);
        var all = TextClassificationDecoder.Decode([1f, -1f], labels, ScoreFunction.Sigmoid, topK: null);
        Assert.Equal(["NEGATIVE", "POSITIVE"], all.Select(r => r.Label));
        Assert.Equal(1 / (1 + Math.Exp(-1)), all[0].Score, 6);
        Assert.Equal(1 / (1 + Math.Exp(1)), all[1].Score, 6);
        Assert.Equal(-1f, TextClassificationDecoder.Decode([1f, -1f], labels, ScoreFunction.None, topK: 2)[1].Score);
        Assert.Throws<InvalidInputException>(() => TextClassificationDecoder.Decode([1f], labels, ScoreFunction.None));
    }

    [Fact]
    public void Fill_mask_top_k_over_the_vocabulary_and_over_targets()
    {
        float[] logits = [0f, 3f, 1f, 2f];
        var top = FillMaskDecoder.TopK(logits, 2);
        Assert.Equal([1, 3], top.Select(c => c.Token));
        double sum = Math.Exp(0) + Math.Exp(3) + Math.Exp(1) + Math.Exp(2);
        Assert.Equal(Math.Exp(3) / sum, top[0].Score, 6);
        // Targets keep the full-vocabulary probability; top-k is capped at the number of targets.
        var targeted = FillMaskDecoder.TopK(logits, 5, targetIds: [0, 2]);
        Assert.Equal([2, 0], targeted.Select(c => c.Token));
        Assert.Equal(Math.Exp(1) / sum, targeted[0].Score, 6);
        Assert.Throws<InvalidInputException>(() => FillMaskDecoder.TopK(logits, 1, targetIds: [4]));
    }

    [Fact]
    public void Fill_mask_top_k_selection_matches_a_full_sort()
    {
        var random = new Random(5);
        // Few distinct values, so ties occur and must break by the lower id.
        var logits = Enumerable.Range(0, 2000).Select(_ => (float)random.Next(0, 50) / 7).ToArray();
        var probabilities = (float[])logits.Clone();
        DistilBert.Compute.Softmax.Rows(probabilities, 1, probabilities.Length);
        foreach (int k in new[] { 1, 5, 37 })
        {
            var reference = Enumerable.Range(0, logits.Length).OrderByDescending(i => probabilities[i]).ThenBy(i => i).Take(k).ToArray();
            Assert.Equal(reference, FillMaskDecoder.TopK(logits, k).Select(c => c.Token));
        }
    }

    // --- embeddings -------------------------------------------------------------------------------------------

    [Fact]
    public void Mean_pooling_ignores_padding_and_cls_takes_the_first_row()
    {
        // hidden: [batch 2, seq 3, dim 2]; the second sequence has one padded position holding garbage.
        float[] hidden = [1, 2, 3, 4, 5, 6, /* */ 10, 20, 30, 40, 999, -999];
        int[] mask = [1, 1, 1, 1, 1, 0];
        var mean = new float[4];
        EmbeddingPooling.PoolBatch(hidden, mask, batch: 2, dim: 2, PoolingMode.Mean, mean);
        Assert.Equal([3f, 4f, 20f, 30f], mean);
        var cls = new float[4];
        EmbeddingPooling.PoolBatch(hidden, mask, batch: 2, dim: 2, PoolingMode.Cls, cls);
        Assert.Equal([1f, 2f, 10f, 20f], cls);
    }

    [Fact]
    public void Normalisation_and_cosine_similarity()
    {
        float[] v = [3, 4];
        EmbeddingPooling.L2Normalize(v);
        Assert.Equal([0.6f, 0.8f], v);
        float[] zero = [0, 0];
        EmbeddingPooling.L2Normalize(zero);
        Assert.Equal([0f, 0f], zero);
        Assert.Equal(1f, EmbeddingPooling.CosineSimilarity([1, 2], [2, 4]), 6);
        Assert.Equal(0f, EmbeddingPooling.CosineSimilarity([1, 0], [0, 5]), 6);
        Assert.Equal(-1f, EmbeddingPooling.CosineSimilarity([1, 1], [-1, -1]), 6);
        Assert.Throws<InvalidInputException>(() => EmbeddingPooling.CosineSimilarity([1], [1, 2]));
    }
}
