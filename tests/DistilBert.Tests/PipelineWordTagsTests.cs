using DistilBert.Pipelines;

namespace DistilBert.Tests;

public sealed class PipelineWordTagsTests
{
    [Fact]
    public void Words_take_the_tag_of_their_first_token()
    {
        var (text, spans) = WordTags.Join(["Empire", "State", "ESB", "."]);
        Assert.Equal("Empire State ESB .", text);
        Assert.Equal([(0, 6), (7, 12), (13, 16), (17, 18)], spans);
        TokenEntity T(string label, int start, int end, float score = 0.9f) => new() { Entity = label, Start = start, End = end, Score = score, Word = text[start..end] };
        var tags = WordTags.FromTokens(spans, [
            T("B-location", 0, 3), T("O", 3, 6),          // em ##pire: the first token decides
            T("I-location", 7, 12, 0.4f), T("O", 7, 12, 0.8f), // same token from two windows: the more confident wins
            // "ESB" has no token (as if normalisation removed it)
            T("O", 17, 18),
        ]);
        Assert.Equal(["B-location", "O", "O", "O"], tags);
    }
}
