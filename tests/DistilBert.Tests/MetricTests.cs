using DistilBert.Metrics;

namespace DistilBert.Tests;

public sealed class MetricTests
{
    [Fact]
    public void Classification_matches_scikit_learn_documented_macro_f1()
    {
        // sklearn.metrics.f1_score docs: y_true=[0,1,2,0,1,2], y_pred=[0,2,1,0,0,1] -> macro 0.2666..., accuracy 1/3.
        var report = ClassificationMetrics.Compute(["0", "1", "2", "0", "1", "2"], ["0", "2", "1", "0", "0", "1"]);
        Assert.Equal(6, report.Count);
        Assert.Equal(1.0 / 3, report.Accuracy, 12);
        Assert.Equal(0.26666666666666666, report.MacroF1, 12);
        Assert.Equal(("0", 2), (report.PerClass[0].Label, report.PerClass[0].Support));
        Assert.Equal(2.0 / 3, report.PerClass[0].Precision, 12);
        Assert.Equal(1, report.PerClass[0].Recall, 12);
        Assert.Equal(0.8, report.PerClass[0].F1, 12);
        Assert.Equal(0, report.PerClass[1].F1);
    }

    [Fact]
    public void Classification_counts_labels_only_predicted_in_the_macro_average()
    {
        var report = ClassificationMetrics.Compute(["a", "a"], ["a", "b"]);
        Assert.Equal(0.5, report.Accuracy);
        Assert.Equal(2, report.PerClass.Count);
        Assert.Equal((2.0 / 3 + 0) / 2, report.MacroF1, 12);
        Assert.Throws<InvalidInputException>(() => ClassificationMetrics.Compute(["a"], []));
    }

    [Fact]
    public void Seqeval_get_entities_documented_example_and_lenient_rules()
    {
        Assert.Equal([new TagSpan("PER", 0, 1), new TagSpan("LOC", 3, 3)], EntityMetrics.GetEntities(["B-PER", "I-PER", "O", "B-LOC"]));
        // An I- tag without a preceding B- starts an entity.
        Assert.Equal([new TagSpan("PER", 1, 2)], EntityMetrics.GetEntities(["O", "I-PER", "I-PER", "O"]));
        // A type change ends the entity even without a B-.
        Assert.Equal([new TagSpan("PER", 0, 0), new TagSpan("LOC", 1, 1)], EntityMetrics.GetEntities(["B-PER", "I-LOC"]));
        Assert.Equal([new TagSpan("PER", 0, 0), new TagSpan("PER", 1, 1)], EntityMetrics.GetEntities(["I-PER", "B-PER"]));
        // IOE: E- closes, the next I- opens a new chunk; S- is a single.
        Assert.Equal([new TagSpan("PER", 0, 1), new TagSpan("PER", 2, 3)], EntityMetrics.GetEntities(["I-PER", "E-PER", "I-PER", "E-PER"]));
        Assert.Equal([new TagSpan("LOC", 0, 0), new TagSpan("LOC", 1, 2)], EntityMetrics.GetEntities(["S-LOC", "B-LOC", "E-LOC"]));
        // Types may contain dashes (WNUT-17's creative-work); a bare B has type "_".
        Assert.Equal([new TagSpan("creative-work", 0, 1)], EntityMetrics.GetEntities(["B-creative-work", "I-creative-work"]));
        Assert.Equal([new TagSpan("_", 0, 1)], EntityMetrics.GetEntities(["B", "I"]));
        Assert.Empty(EntityMetrics.GetEntities([]));
    }

    [Fact]
    public void Seqeval_documented_f1_example()
    {
        // seqeval README: f1_score = 0.50, accuracy_score = 0.80.
        var metrics = new EntityMetrics();
        metrics.Add(["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"]);
        metrics.Add(["B-PER", "I-PER", "O"], ["B-PER", "I-PER", "O"]);
        var report = metrics.Report();
        Assert.Equal(0.5, report.Precision, 12);
        Assert.Equal(0.5, report.Recall, 12);
        Assert.Equal(0.5, report.F1, 12);
        Assert.Equal(0.8, report.TokenAccuracy, 12);
        Assert.Equal(["MISC", "PER"], report.PerType.Select(t => t.Label));
        Assert.Equal(0, report.PerType[0].F1);
        Assert.Equal(1, report.PerType[1].F1);
        Assert.Equal(2, report.GoldEntities);
    }

    [Fact]
    public void Seqeval_scores_lenient_i_tag_prediction_as_a_match()
    {
        var metrics = new EntityMetrics();
        metrics.Add(["B-LOC", "I-LOC", "O"], ["I-LOC", "I-LOC", "O"]);
        Assert.Equal(1, metrics.Report().F1);
        Assert.Throws<InvalidInputException>(() => metrics.Add(["O"], ["O", "O"]));
    }

    [Fact]
    public void Squad_normalisation_follows_the_official_script()
    {
        Assert.Equal("quick brown fox", SquadMetrics.Normalize("The  Quick, brown fox!"));
        Assert.Equal("theater", SquadMetrics.Normalize("theater"));
        Assert.Equal("apple pie", SquadMetrics.Normalize(" An apple\tpie "));
        Assert.Equal("applepie", SquadMetrics.Normalize("apple-pie"));
        Assert.Equal("1990s", SquadMetrics.Normalize("the 1990's"));
        Assert.Equal("", SquadMetrics.Normalize("a an the ."));
    }

    [Fact]
    public void Squad_em_and_f1_take_the_max_over_gold_answers()
    {
        Assert.Equal(1, SquadMetrics.ExactMatch("An apple", "apple"));
        Assert.Equal(0, SquadMetrics.ExactMatch("apples", "apple"));
        Assert.Equal(2.0 / 3, SquadMetrics.F1("the cat sat", "a cat sat on the mat"), 12);
        Assert.Equal(0, SquadMetrics.F1("", "cat"));
        // Repeated tokens count as a multiset intersection.
        Assert.Equal(2 * (1.0 / 3) * 1 / (1.0 / 3 + 1), SquadMetrics.F1("cat cat cat", "cat"), 12);

        var metrics = new SquadMetrics();
        metrics.Add("Denver Broncos", ["Denver Broncos", "The Broncos"]);
        metrics.Add("Broncos", ["Denver Broncos", "the broncos"]);
        metrics.Add("Carolina", ["Denver Broncos"]);
        var report = metrics.Report();
        Assert.Equal(3, report.Count);
        Assert.Equal(200.0 / 3, report.ExactMatch, 9);
        Assert.Equal(200.0 / 3, report.F1, 9);
    }
}
