using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace DistilBert.Server.Studio;

/// <summary>
/// Reviewed items (accepted and corrected) as training data in the formats <c>distilbert train</c> reads: TSV with a
/// <c>text</c>/<c>label</c> header for classification, CoNLL (one token and its BIO tag per line) for NER, SQuAD v1.1
/// JSON for QA. Items whose inputs were not stored (<c>storeInputs: off</c>) cannot become examples and are skipped.
/// </summary>
/// <remarks>Thread-safety: stateless; safe from many threads.</remarks>
public static class StudioExport
{
    /// <summary>The export format of each template that has one.</summary>
    public static string? FormatOf(string template) => template switch
    {
        "sentiment" => "tsv",
        "entities" => "conll",
        "question-answering" => "squad",
        _ => null,
    };

    /// <summary>The HTTP <c>Content-Type</c> of an export in <paramref name="format"/> (<c>tsv</c>, <c>conll</c> or <c>squad</c>), UTF-8.</summary>
    public static string ContentType(string format) => format switch
    {
        "tsv" => "text/tab-separated-values; charset=utf-8",
        "squad" => "application/json; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    };

    /// <summary>The endpoint's reviewed items in <paramref name="format"/>, and how many were written and skipped.</summary>
    /// <exception cref="InvalidInputException">the endpoint does not exist, or its task does not export as <paramref name="format"/>.</exception>
    public static async Task<(string Text, int Written, int Skipped)> ExportAsync(IStudioStore store, string endpointName, string format)
    {
        var endpoint = await store.GetEndpointAsync(endpointName) ?? throw new InvalidInputException($"no Studio endpoint named '{endpointName}'");
        var expected = FormatOf(endpoint.Template);
        if (expected is null)
            throw new InvalidInputException($"endpoint '{endpointName}' ({endpoint.Template}) has no training format: only sentiment (tsv), entities (conll) and question-answering (squad) export");
        if (format != expected)
            throw new InvalidInputException($"format '{format}' does not fit endpoint '{endpointName}' ({endpoint.Template}): it exports as {expected}");
        var items = (await store.ListItemsAsync(endpointName, null)).Where(i => i.Status != ReviewItem.Pending).ToList();
        var usable = items.Where(i => i.Inputs is not null).ToList();
        string text = format switch
        {
            "tsv" => Tsv(usable),
            "conll" => Conll(usable),
            _ => Squad(endpointName, usable),
        };
        return (text, usable.Count, items.Count - usable.Count);
    }

    static string Tsv(List<ReviewItem> items)
    {
        var output = new StringBuilder("text\tlabel\n");
        foreach (var item in items)
            output.Append(Field(item.Inputs!.Value.GetString()!)).Append('\t').Append(Field(item.FinalOutput[0].GetProperty("label").GetString()!)).Append('\n');
        return output.ToString();
    }

    /// <summary>RFC 4180 quoting where the reader needs it: a tab, a line break, or a leading quote.</summary>
    static string Field(string text) =>
        text.IndexOfAny(['\t', '\n', '\r']) >= 0 || text.StartsWith('"') ? "\"" + text.Replace("\"", "\"\"") + "\"" : text;

    // Words as BERT's pre-tokenizer splits them: runs of letters/digits, and each other visible character alone.
    static readonly Regex Words = new(@"[\p{L}\p{M}\p{N}_]+|[^\s\p{L}\p{M}\p{N}_]", RegexOptions.Compiled);

    static string Conll(List<ReviewItem> items)
    {
        var output = new StringBuilder();
        foreach (var item in items)
        {
            string text = item.Inputs!.Value.GetString()!;
            var spans = item.FinalOutput.EnumerateArray()
                .Select(e => (Group: Bare(e.GetProperty("entityGroup").GetString()!), Start: e.GetProperty("start").GetInt32(), End: e.GetProperty("end").GetInt32()))
                .OrderBy(s => s.Start).ToList();
            int written = 0;
            (string Group, int Start, int End)? previous = null;
            foreach (Match word in Words.Matches(text))
            {
                // The CoNLL reader takes a line starting with '[' or '{' for JSON; such a bracket carries no entity.
                if (word.Value is "[" or "{") continue;
                var span = spans.FirstOrDefault(s => word.Index < s.End && word.Index + word.Length > s.Start);
                string tag = span.Group is null ? "O" : (previous == span ? "I-" : "B-") + span.Group;
                previous = span.Group is null ? null : span;
                output.Append(word.Value).Append('\t').Append(tag).Append('\n');
                written++;
            }
            if (written > 0) output.Append('\n');
        }
        return output.ToString();
    }

    /// <summary>A label without its B-/I- prefix (outputs of aggregation "none" carry one).</summary>
    static string Bare(string label) => label.Length > 2 && label[1] == '-' && label[0] is 'B' or 'I' ? label[2..] : label;

    static string Squad(string endpoint, List<ReviewItem> items)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("version", "v1.1");
            json.WriteStartArray("data");
            json.WriteStartObject();
            json.WriteString("title", endpoint);
            json.WriteStartArray("paragraphs");
            foreach (var item in items)
            {
                var answer = item.FinalOutput;
                int start = answer.GetProperty("start").GetInt32(), end = answer.GetProperty("end").GetInt32();
                if (end <= start) continue; // no answer span: nothing to learn from
                string context = item.Inputs!.Value.GetProperty("context").GetString()!;
                json.WriteStartObject();
                json.WriteString("context", context);
                json.WriteStartArray("qas");
                json.WriteStartObject();
                json.WriteString("id", item.Id);
                json.WriteString("question", item.Inputs.Value.GetProperty("question").GetString());
                json.WriteStartArray("answers");
                json.WriteStartObject();
                json.WriteString("text", context[start..Math.Min(end, context.Length)]);
                json.WriteNumber("answer_start", start);
                json.WriteEndObject();
                json.WriteEndArray();
                json.WriteEndObject();
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }
}
