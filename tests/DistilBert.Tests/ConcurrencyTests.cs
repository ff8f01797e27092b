using System.Diagnostics;
using System.Text.Json;
using DistilBert.Compute;
using DistilBert.Inference;
using DistilBert.Modeling;
using DistilBert.Pipelines;

namespace DistilBert.Tests;

/// <summary>
/// Many threads on one pipeline, session or worker pool: every answer must equal the one-thread answer for the same
/// input, bit for bit, and nothing may crash. Each stress loop runs for a bounded time (DISTILBERT_STRESS_SECONDS per
/// case, default 2); `tools/stress.sh` runs them longer. They change the worker pool's test hook, so they run alone.
/// </summary>
[Collection(nameof(ComputeCollection))]
public sealed class ConcurrencyTests : IClassFixture<PipelineTestModels>
{
    readonly PipelineTestModels _models;
    public ConcurrencyTests(PipelineTestModels models) => _models = models;

    static TimeSpan StressTime => TimeSpan.FromSeconds(
        double.TryParse(Environment.GetEnvironmentVariable("DISTILBERT_STRESS_SECONDS"), out var s) && s > 0 ? s : 2);

    const int Threads = 8;

    /// <summary>Runs <paramref name="body"/> on <see cref="Threads"/> threads until the stress time is over; each thread gets
    /// its own Random. Rethrows the first failure.</summary>
    static long Hammer(Action<Random> body, object? serialiseOn = null)
    {
        var stop = Stopwatch.StartNew();
        long calls = 0;
        Exception? failure = null;
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var rng = new Random(1000 + t);
            try
            {
                while (stop.Elapsed < StressTime && Volatile.Read(ref failure) is null)
                {
                    if (serialiseOn is null) body(rng);
                    else lock (serialiseOn) body(rng);
                    Interlocked.Increment(ref calls);
                }
            }
            catch (Exception e) { Interlocked.CompareExchange(ref failure, e, null); }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (failure is not null) throw new Xunit.Sdk.XunitException($"a thread failed: {failure}");
        return calls;
    }

    /// <summary>Counts the indices it ran, and whether any ran after the loop that owned it had returned.</summary>
    sealed class CountingWork : ParallelWork
    {
        public volatile bool Returned;
        public int Done, Late, Spin;

        public override void Execute(int index)
        {
            double x = 0;
            for (int i = 0, n = (index * 7919 + Spin) % 40_000; i < n; i++) x += Math.Sqrt(i);
            if (x < 0) throw new InvalidOperationException();
            if (Returned) Interlocked.Increment(ref Late);
            Interlocked.Increment(ref Done);
        }
    }

    [Fact]
    public void WorkerPoolNeverReturnsBeforeEveryIndexFinished()
    {
        // A worker that stalls right after finishing an index — where, before the fix, it read the next loop's count —
        // must neither release the next loop's caller early nor be lost. The stall is what a preempted vCPU does. Three
        // workers, whatever the machine has, make the window easy to hit in 2 s. Before the fix this failed in every
        // 2-second run.
        ComputeThreads.AfterIndexForTests = () =>
        {
            int r = Random.Shared.Next(8);
            if (r == 0) Thread.Sleep(1);
            else if (r == 1) Thread.Yield();
        };
        int early = 0;
        int savedCount = ComputeThreads.Count;
        ComputeThreads.Count = 4;
        try
        {
            var gate = new object();
            long calls = Hammer(rng =>
            {
                var work = new CountingWork { Spin = rng.Next(10_000) };
                int count = 2 + rng.Next(6);
                ComputeThreads.For(count, work);
                if (Volatile.Read(ref work.Done) != count) Interlocked.Increment(ref early);
                work.Returned = true;
            }, serialiseOn: gate);
            Assert.True(calls > 100, $"only {calls} loops ran");
        }
        finally { ComputeThreads.AfterIndexForTests = null; ComputeThreads.Count = savedCount; }
        Assert.Equal(0, early);
    }

    static string Json(object value) => JsonSerializer.Serialize(value);

    /// <summary>Answers each input alone first, then has 8 threads call the same pipeline with random inputs, comparing
    /// every answer with the one-thread answer (the JSON of the results: floats round-trip exactly).</summary>
    static void SharedPipelineAnswersAsAlone(string[] inputs, Func<string, object> answer, object? serialiseOn = null)
    {
        var expected = inputs.Select(i => Json(answer(i))).ToArray();
        int wrong = 0;
        Hammer(rng =>
        {
            int i = rng.Next(inputs.Length);
            if (Json(answer(inputs[i])) != expected[i]) Interlocked.Increment(ref wrong);
        }, serialiseOn);
        Assert.Equal(0, wrong);
    }

    static readonly string[] Sentences =
    [
        "a gorgeous, witty, seductive movie.",
        "the plot is nothing but boilerplate clichés from start to finish,",
        "it 's a charming and often affecting journey.",
        "unflinchingly bleak and desperate",
        "ok",
        string.Join(" ", Enumerable.Repeat("the film drags on and on, but its final act is a small miracle of timing", 12)),
        "Alice moved from Paris to Berlin in 2019 and works for Siemens.",
        "a",
    ];

    [Fact]
    public void SharedClassifierGivesEveryThreadItsOwnAnswer()
    {
        var pipeline = TextClassificationPipeline.Load(Cli.DefaultAssets.Teacher);
        // batches of several inputs too: each thread's batch is ragged and its rows must stay its own
        SharedPipelineAnswersAsAlone(Sentences, s => pipeline.Predict([s, Sentences[s.Length % Sentences.Length]], topK: null).ToList());
    }

    [Fact]
    public void SharedClassifierSerialisedByALockFromManyThreads()
    {
        // the calling pattern that crashed: never two calls at once, but each from another thread
        var pipeline = TextClassificationPipeline.Load(Cli.DefaultAssets.Teacher);
        SharedPipelineAnswersAsAlone(Sentences, s => pipeline.Predict(s, topK: null), serialiseOn: new object());
    }

    [Fact]
    public void SharedEmbeddingGeneratorGivesEveryCallerItsOwnVectors()
    {
        using var generator = DistilBertEmbeddingGenerator.Load(Cli.DefaultAssets.Teacher);
        SharedPipelineAnswersAsAlone(Sentences, s =>
            generator.GenerateAsync([s, "and a second sentence"]).GetAwaiter().GetResult().Select(e => e.Vector.ToArray()).ToList());
    }

    [Fact]
    public void SharedTaggerReaderAndFillMaskGiveEveryThreadItsOwnAnswer()
    {
        var tagger = TokenClassificationPipeline.Load(_models.Tagger, new PipelineSettings { MaxLength = 24 }, stride: 8);
        var reader = QuestionAnsweringPipeline.Load(_models.Reader, new PipelineSettings { MaxLength = 32 });
        var filler = FillMaskPipeline.Load(_models.MaskedLm);
        SharedPipelineAnswersAsAlone(Sentences, s => new object[]
        {
            tagger.Predict(s, AggregationStrategy.Simple),
            reader.Predict("where did alice move?", s),
            filler.Predict("[MASK] " + s, topK: 3),
        });
    }

    [Fact]
    public void SessionFromEightThreadsEqualsOneThreadOnEveryKernelShape()
    {
        // width 96 and FFN 384 are whole 48-column panels (the AVX-512 in-place path); sequences of 128 and 256 tokens
        // have whole Strassen blocks; lengths 1..300 mix every edge
        var config = new DistilBertConfig { Dim = 96, NLayers = 2, NHeads = 2, HiddenDim = 384, MaxPositionEmbeddings = 300, VocabSize = 500 };
        var model = PretrainedModel.Create(config, "DistilBertModel", seed: 5);
        var session = InferenceSession.Create(model);
        var rng = new Random(3);
        int[] lengths = [1, 7, 128, 300, 256, 33, 129, 64];
        var inputs = Enumerable.Range(0, 12).Select(i =>
        {
            int sequences = 1 + i % 4;
            var ids = Enumerable.Range(0, sequences).Select(s => Enumerable.Range(0, lengths[(i + s) % lengths.Length])
                .Select(_ => rng.Next(config.VocabSize)).ToArray()).ToArray();
            return ModelInput.FromSequences(ids);
        }).ToArray();
        var expected = inputs.Select(input => session.Run(input)["last_hidden_state"].Data).ToArray();
        int wrong = 0;
        Hammer(r =>
        {
            int i = r.Next(inputs.Length);
            if (!session.Run(inputs[i])["last_hidden_state"].Data.AsSpan().SequenceEqual(expected[i])) Interlocked.Increment(ref wrong);
        });
        Assert.Equal(0, wrong);
    }

    [Fact]
    public void ModelRefusesAConcurrentDirectCallLoudly()
    {
        var config = new DistilBertConfig { Dim = 16, NLayers = 1, NHeads = 2, HiddenDim = 32, MaxPositionEmbeddings = 16, VocabSize = 50 };
        var model = PretrainedModel.Create(config, "DistilBertModel", seed: 1);
        var session = InferenceSession.Create(model);
        var input = ModelInput.FromSequences([[1, 2, 3]]);
        using (model.EnterShared()) // a session call in flight on another thread
        {
            var direct = Assert.Throws<InvalidOperationException>(() => model.Forward(input));
            Assert.Contains("InferenceSession", direct.Message);
            Assert.Throws<InvalidOperationException>(() => model.Train());
        }
        using (model.EnterExclusive("Forward")) // a direct Forward in flight on another thread
        {
            var viaSession = Assert.Throws<InvalidOperationException>(() => session.Run(input));
            Assert.Contains("session", viaSession.Message);
            var second = Assert.Throws<InvalidOperationException>(() => model.Forward(input));
            Assert.Contains("not thread-safe", second.Message);
        }
        // and once nothing is in flight, both work
        Assert.Equal(session.Run(input)["last_hidden_state"].Data, model.Forward(input)["last_hidden_state"].Data);
    }
}
