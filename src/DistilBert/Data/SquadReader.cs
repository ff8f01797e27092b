using System.Text.Json;

namespace DistilBert.Data;

/// <summary>A gold answer: its text and character offset in the context.</summary>
public readonly record struct SquadAnswer(string Text, int Start);

/// <summary>One SQuAD question with its paragraph.</summary>
public sealed record SquadExample(string Id, string Title, string Context, string Question, SquadAnswer[] Answers);

/// <summary>
/// Reads SQuAD v1.1 json (optionally .gz). The file is one JSON document, so it is parsed whole from the byte
/// stream (SQuAD's 29 MB training file included) and the questions are then streamed paragraph by paragraph. A file
/// that is not SQuAD v1.1 is refused with the JSON path of the first field that shows it (<c>data[0].paragraphs</c>,
/// <c>data[2].paragraphs[1].qas[0].answers</c> ...): HF's flattened format (one object per question, "answers" an
/// object of lists), answers pointing outside their context, a file without any question.
/// </summary>
public static class SquadReader
{
    const string Shape = "expected SQuAD v1.1 json: {\"data\": [{\"title\", \"paragraphs\": [{\"context\", \"qas\": " +
        "[{\"id\", \"question\", \"answers\": [{\"text\", \"answer_start\"}]}]}]}]}";

    /// <summary>Reads the questions of the SQuAD v1.1 file at <paramref name="path"/>.</summary>
    public static IEnumerable<SquadExample> Read(string path)
    {
        JsonDocument document;
        using (var stream = DataFile.OpenUtf8Bytes(path))
        {
            try { document = JsonDocument.Parse(stream); }
            catch (JsonException e) { throw new DataFileException(path, e.LineNumber + 1, $"malformed JSON: {e.Message}", e); }
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
                throw new DataFileException(path, null, $"not SQuAD json: no \"data\" array at the top; {Shape}");
            long questions = 0;
            int articleIndex = 0;
            foreach (var article in data.EnumerateArray())
            {
                string articlePath = $"data[{articleIndex++}]";
                string title = article.ValueKind == JsonValueKind.Object && article.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String
                    ? t.GetString()! : "";
                int paragraphIndex = 0;
                foreach (var paragraph in Array(path, article, "paragraphs", articlePath))
                {
                    string paragraphPath = $"{articlePath}.paragraphs[{paragraphIndex++}]";
                    string context = String(path, paragraph, "context", paragraphPath);
                    int questionIndex = 0;
                    foreach (var qa in Array(path, paragraph, "qas", paragraphPath))
                    {
                        string qaPath = $"{paragraphPath}.qas[{questionIndex++}]";
                        string id = String(path, qa, "id", qaPath);
                        string question = String(path, qa, "question", qaPath);
                        var answers = new List<SquadAnswer>();
                        if (qa.TryGetProperty("answers", out var answerArray))
                        {
                            int answerIndex = 0;
                            foreach (var answer in Array(path, qa, "answers", qaPath))
                            {
                                string answerPath = $"{qaPath}.answers[{answerIndex++}]";
                                string text = String(path, answer, "text", answerPath);
                                if (!answer.TryGetProperty("answer_start", out var s) || s.ValueKind != JsonValueKind.Number || !s.TryGetInt32(out int start))
                                    throw new DataFileException(path, null, $"{answerPath}.answer_start: expected an integer offset into the context");
                                if (start < 0 || start + text.Length > context.Length)
                                    throw new DataFileException(path, null, $"{answerPath}: the answer ({start}, {text.Length} chars) lies outside " +
                                        $"its {context.Length}-char context");
                                answers.Add(new SquadAnswer(text, start));
                            }
                        }
                        questions++;
                        yield return new SquadExample(id, title, context, question, answers.ToArray());
                    }
                }
            }
            if (questions == 0) throw new DataFileException(path, null, $"holds no questions; {Shape}");
        }
    }

    static JsonElement.ArrayEnumerator Array(string path, JsonElement parent, string name, string where) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray()
            : throw Missing(path, parent, name, "an array", where);

    static string String(string path, JsonElement parent, string name, string where) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw Missing(path, parent, name, "a string", where);

    static DataFileException Missing(string path, JsonElement parent, string name, string kind, string where) =>
        new(path, null, parent.ValueKind != JsonValueKind.Object ? $"{where}: expected an object, found {parent.ValueKind}; {Shape}"
            : parent.TryGetProperty(name, out var found) ? $"{where}.{name}: expected {kind}, found {found.ValueKind}; {Shape}"
            : $"{where}: missing \"{name}\" ({kind}); {Shape}");
}
