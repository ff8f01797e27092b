using DistilBert.Checkpoints;
using DistilBert.Modeling;
using DistilBert.Pipelines;

namespace DistilBert.Tests;

public sealed class PipelineEndToEndTests(PipelineTestModels models) : IClassFixture<PipelineTestModels>
{
    [Fact]
    public void Fill_mask_on_the_real_vocab_checkpoint_matches_top_k_of_hf_logits()
    {
        var pipeline = FillMaskPipeline.Load(models.MaskedLm);
        var proposals = Assert.Single(pipeline.Predict("The capital of France is [MASK]."));

        // HF's logits for the same text (case.json: row 1, [MASK] at position 6), softmax in double.
        using var expected = SafeTensors.Open(Fixtures.Golden("models", "distilbert_realvocab_e2e", "expected.safetensors"));
        var logits = expected.ReadFloat32("logits");
        const int vocab = 30522, seq = 9;
        var row = logits.AsSpan((1 * seq + 6) * vocab, vocab).ToArray();
        double max = row.Max();
        double sum = row.Sum(v => Math.Exp(v - max));
        var top = Enumerable.Range(0, vocab).OrderByDescending(i => row[i]).Take(5).ToArray();

        Assert.Equal(top, proposals.Select(p => p.Token));
        for (int i = 0; i < 5; i++) Assert.Equal(Math.Exp(row[top[i]] - max) / sum, proposals[i].Score, 4);
        var best = proposals[0];
        Assert.Equal(pipeline.Tokenizer.IdToToken(best.Token), best.TokenStr);
        Assert.Equal($"the capital of france is {best.TokenStr}.", best.Sequence);
    }

    [Fact]
    public void Fill_mask_needs_a_mask_and_reports_which_input()
    {
        var pipeline = FillMaskPipeline.Load(models.MaskedLm);
        var e = Assert.Throws<InvalidInputException>(() => pipeline.Predict(["a [MASK] b", "no mask here"]).ToList());
        Assert.Contains("input 2", e.Message);
        var multi = Assert.Single(pipeline.Predict(["[MASK] and [MASK]"], topK: 2));
        Assert.Equal(2, multi.Masks.Count);
        Assert.Contains("[MASK]", multi.Masks[0][0].Sequence); // the other mask stays visible, as HF
    }

    [Fact]
    public void Classification_of_a_length_sorted_stream_equals_one_by_one_and_a_padded_hf_batch()
    {
        var pipeline = TextClassificationPipeline.Load(models.Classifier, new PipelineSettings { BatchSize = 2 });
        string[] texts = ["a fine film", "dull", "the plot wanders but the acting is superb throughout", "ok then", "so bad it is good"];
        var streamed = pipeline.Predict(texts, topK: null).ToList();
        Assert.Equal([1L, 2, 3, 4, 5], streamed.Select(o => o.Input));
        for (int i = 0; i < texts.Length; i++)
        {
            var alone = pipeline.Predict(texts[i], topK: null);
            Assert.Equal(alone.Select(r => r.Label), streamed[i].Labels.Select(r => r.Label));
            for (int j = 0; j < alone.Count; j++) Assert.Equal(alone[j].Score, streamed[i].Labels[j].Score, 5);
            Assert.Equal(1.0, streamed[i].Labels.Sum(r => (double)r.Score), 5);
        }

        // Reference twin: HF's padded batch with an attention mask, through the model directly.
        var encodings = texts.Select(t => pipeline.Tokenizer.Encode(t)).ToArray();
        int seq = encodings.Max(e => e.Length);
        var ids = new long[texts.Length * seq];
        var mask = new long[texts.Length * seq];
        for (int b = 0; b < texts.Length; b++)
            for (int t = 0; t < encodings[b].Length; t++) { ids[b * seq + t] = encodings[b].Ids[t]; mask[b * seq + t] = 1; }
        var logits = pipeline.Model.Forward(ModelInput.FromPadded(ids, texts.Length, seq, mask))["logits"].Data;
        for (int b = 0; b < texts.Length; b++)
        {
            var reference = TextClassificationDecoder.Decode(logits.AsSpan(b * 2, 2), pipeline.Labels, ScoreFunction.Softmax, topK: null);
            Assert.Equal(reference[0].Label, streamed[b].Labels[0].Label);
            Assert.Equal(reference[0].Score, streamed[b].Labels[0].Score, 4);
        }
    }

    [Fact]
    public async Task Async_streams_give_the_same_results_as_sync_ones()
    {
        var pipeline = TextClassificationPipeline.Load(models.Classifier, new PipelineSettings { BatchSize = 2 });
        string[] texts = ["one", "two words", "three words here", "four"];
        async IAsyncEnumerable<DistilBert.Data.TextExample> Source()
        {
            for (int i = 0; i < texts.Length; i++) { await Task.Yield(); yield return new DistilBert.Data.TextExample(i + 1, texts[i]); }
        }
        var results = new List<ClassificationOutput>();
        await foreach (var output in pipeline.PredictAsync(Source())) results.Add(output);
        var sync = pipeline.Predict(texts).ToList();
        Assert.Equal(sync.Select(o => (o.Input, o.Labels[0].Label)), results.Select(o => (o.Input, o.Labels[0].Label)));

        var embedder = EmbeddingPipeline.Load(models.MaskedLm);
        async IAsyncEnumerable<string> Texts() { foreach (var t in texts) { await Task.Yield(); yield return t; } }
        var vectors = new List<float[]>();
        await foreach (var output in embedder.EmbedAsync(Texts())) vectors.Add(output.Vector);
        Assert.Equal(embedder.Embed(texts).Select(o => o.Vector), vectors);
    }

    [Fact]
    public void Classification_truncates_long_input_with_a_warning()
    {
        var warnings = new List<string>();
        var pipeline = TextClassificationPipeline.Load(models.Classifier, new PipelineSettings { MaxLength = 8, Warn = warnings.Add });
        var result = pipeline.Predict("one two three four five six seven eight nine ten eleven");
        Assert.Single(result);
        Assert.Contains(warnings, w => w.Contains("input 1") && w.Contains("truncated"));
    }

    [Fact]
    public void Ner_long_text_in_windows_labels_every_token_once_with_offsets_into_the_text()
    {
        var words = Enumerable.Range(0, 40).Select(i => i % 3 == 0 ? "Paris" : i % 3 == 1 ? "visited" : "Ann").ToArray();
        var text = string.Join(' ', words);
        var windowed = TokenClassificationPipeline.Load(models.Tagger, new PipelineSettings { MaxLength = 16 }, stride: 4);
        var whole = TokenClassificationPipeline.Load(models.Tagger, new PipelineSettings { MaxLength = 64 });
        var tokens = windowed.Predict(text, AggregationStrategy.None, ignoreLabels: []);
        var reference = whole.Predict(text, AggregationStrategy.None, ignoreLabels: []);
        // Every token of the text exactly once, in order, despite the overlapping windows.
        Assert.Equal(reference.Select(t => (t.Start, t.End)), tokens.Select(t => (t.Start, t.End)));
        // With "none", word is the vocabulary token as HF gives it (lower-cased by this uncased vocabulary).
        Assert.All(tokens, t => Assert.Equal(text[t.Start..t.End], t.Word, ignoreCase: true));
        Assert.All(tokens, t => Assert.Contains(t.Entity!, PipelineTestModels.NerLabels));

        var groups = windowed.Predict(text, AggregationStrategy.First);
        Assert.All(groups, g => Assert.Equal(text[g.Start..g.End], g.Word));
        Assert.All(groups, g => Assert.NotEqual("O", g.EntityGroup));

        // Each window run alone through the model: every token takes the label and score of the window where it scores
        // highest (HF's rule for overlapping entities of the same length).
        var encoding = windowed.Tokenizer.Encode(text, null, new DistilBert.Tokenization.EncodeOptions
        {
            MaxLength = 16, Stride = 4, Truncation = DistilBert.Tokenization.TruncationStrategy.LongestFirst, ReturnOverflowing = true,
        });
        var windows = new[] { encoding }.Concat(encoding.Overflowing).ToList();
        Assert.True(windows.Count >= 3, $"{windows.Count} windows");
        var best = new Dictionary<(int, int), (string Label, double Score)>();
        foreach (var window in windows)
        {
            var logits = windowed.Model.Forward(ModelInput.FromSequences([window.Ids]))["logits"].Data;
            int labels = PipelineTestModels.NerLabels.Length;
            for (int t = 0; t < window.Length; t++)
            {
                if (window.SpecialTokensMask[t] != 0) continue;
                var row = logits.AsSpan(t * labels, labels).ToArray();
                int arg = Array.IndexOf(row, row.Max());
                double score = 1 / row.Sum(v => Math.Exp(v - row[arg]));
                var key = (window.Offsets[t].Start, window.Offsets[t].End);
                if (!best.TryGetValue(key, out var seen) || score > seen.Score) best[key] = (PipelineTestModels.NerLabels[arg], score);
            }
        }
        Assert.Equal(best.Keys.Order(), tokens.Select(t => (t.Start, t.End)));
        foreach (var token in tokens)
        {
            var expected = best[(token.Start, token.End)];
            Assert.Equal(expected.Label, token.Entity);
            Assert.Equal(expected.Score, token.Score, 5);
        }
    }

    [Fact]
    public void Ner_text_that_fits_one_window_gives_the_same_answer_as_the_unwindowed_pipeline()
    {
        const string text = "Ann visited Paris and Lee";
        var windowed = TokenClassificationPipeline.Load(models.Tagger, new PipelineSettings { MaxLength = 16 }, stride: 4);
        var whole = TokenClassificationPipeline.Load(models.Tagger, new PipelineSettings { MaxLength = 64 });
        foreach (var strategy in new[] { AggregationStrategy.None, AggregationStrategy.Simple, AggregationStrategy.First })
        {
            var expected = whole.Predict(text, strategy, ignoreLabels: []);
            var actual = windowed.Predict(text, strategy, ignoreLabels: []);
            Assert.NotEmpty(expected);
            Assert.Equal(expected.Select(e => (e.Entity, e.EntityGroup, e.Start, e.End, e.Word)), actual.Select(e => (e.Entity, e.EntityGroup, e.Start, e.End, e.Word)));
            for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].Score, actual[i].Score, 6);
        }
    }

    [Fact]
    public void Ner_word_tags_align_with_conll_words()
    {
        var pipeline = TokenClassificationPipeline.Load(models.Tagger);
        string[][] sentences = [["Empire", "State", "Building"], ["hello", "@paulwalk", "!"]];
        var tags = pipeline.PredictWordTags(sentences).ToList();
        Assert.Equal([3, 3], tags.Select(t => t.Length));
        Assert.All(tags.SelectMany(t => t), tag => Assert.Contains(tag, PipelineTestModels.NerLabels));
    }

    [Fact]
    public void Qa_windows_over_a_long_context_give_a_valid_span_and_match_a_single_window_when_it_fits()
    {
        var context = string.Join(' ', Enumerable.Range(0, 30).Select(i => $"Sentence {i} mentions Paris and the Seine."));
        var small = QuestionAnsweringPipeline.Load(models.Reader, new PipelineSettings { MaxLength = 48 });
        var answers = small.Predict("Where is the Seine?", context, new AnswerOptions { TopK = 3, DocStride = 16 });
        Assert.Equal(3, answers.Count);
        Assert.All(answers, a => Assert.Equal(context[a.Start..a.End], a.Answer));
        Assert.True(answers[0].Score >= answers[1].Score && answers[1].Score >= answers[2].Score);

        // A context that fits one 48-token window: the windowed pipeline gives exactly the unwindowed answers.
        var shortContext = "Paris is on the Seine, which flows through the city.";
        var big = QuestionAnsweringPipeline.Load(models.Reader);
        foreach (var options in new[] { new AnswerOptions { TopK = 3, DocStride = 16 }, new AnswerOptions { HandleImpossibleAnswer = true, TopK = 2, DocStride = 16 } })
        {
            var one = big.Predict("Where is Paris?", shortContext, options);
            var windowed = small.Predict("Where is Paris?", shortContext, options);
            Assert.Equal(options.TopK, one.Count);
            Assert.All(one, a => Assert.Equal(shortContext[a.Start..a.End], a.Answer));
            Assert.Equal(one.Select(a => (a.Start, a.End, a.Answer)), windowed.Select(a => (a.Start, a.End, a.Answer)));
            for (int i = 0; i < one.Count; i++) Assert.Equal(one[i].Score, windowed[i].Score, 6);
        }
    }

    [Fact]
    public void Wrong_task_and_missing_folder_are_clear_errors()
    {
        var wrong = Assert.Throws<InvalidInputException>(() => QuestionAnsweringPipeline.Load(models.Classifier));
        Assert.Contains("DistilBertForSequenceClassification", wrong.Message);
        Assert.Contains("ForQuestionAnswering", wrong.Message);
        var missing = Assert.Throws<ModelFileException>(() => TextClassificationPipeline.Load(Path.Combine(models.Root, "nope")));
        Assert.Contains("no such folder", missing.Message);
    }

    [Fact]
    public void Embeddings_mean_pool_real_tokens_only_matching_a_padded_batch_with_mask()
    {
        var pipeline = EmbeddingPipeline.Load(models.MaskedLm, new PipelineSettings { BatchSize = 3 }, PoolingMode.Mean, normalize: false);
        string[] texts = ["short", "a somewhat longer sentence about dogs", "medium length text"];
        var vectors = pipeline.Embed(texts).Select(o => o.Vector).ToArray();

        // HF semantics: padded [batch, seq] with attention mask; mean over mask-1 positions only.
        var encodings = texts.Select(t => pipeline.Tokenizer.Encode(t)).ToArray();
        int seq = encodings.Max(e => e.Length), dim = pipeline.Dimensions;
        var ids = new long[texts.Length * seq];
        var mask = new long[texts.Length * seq];
        var intMask = new int[texts.Length * seq];
        for (int b = 0; b < texts.Length; b++)
            for (int t = 0; t < encodings[b].Length; t++) { ids[b * seq + t] = encodings[b].Ids[t]; mask[b * seq + t] = 1; intMask[b * seq + t] = 1; }
        var hidden = pipeline.Model.Forward(ModelInput.FromPadded(ids, texts.Length, seq, mask))["last_hidden_state"].Data;
        var pooled = new float[texts.Length * dim];
        EmbeddingPooling.PoolBatch(hidden, intMask, texts.Length, dim, PoolingMode.Mean, pooled);
        for (int b = 0; b < texts.Length; b++)
            for (int j = 0; j < dim; j++) Assert.Equal(pooled[b * dim + j], vectors[b][j], 4);

        var normalized = EmbeddingPipeline.Load(models.MaskedLm).Embed("short");
        Assert.Equal(1.0, Math.Sqrt(normalized.Sum(v => (double)v * v)), 5);
        Assert.Equal(1f, EmbeddingPooling.CosineSimilarity(normalized, vectors[0]), 5);
    }
}
