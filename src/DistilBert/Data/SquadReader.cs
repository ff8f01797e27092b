using System.Text.Json;

namespace DistilBert.Data;

/// <summary>A gold answer: its text and character offset in the context.</summary>
public readonly record struct SquadAnswer(string Text, int Start);

/// <summary>One SQuAD question with its paragraph.</summary>
public sealed record SquadExample(string Id, string Title, string Context, string Question, SquadAnswer[] Answers);

/// <summary>
/// Reads SQuAD v1.1 json (optionally .gz). The file is one JSON document, so it is parsed whole from the byte
/// stream (SQuAD's 29 MB training file included) and the questions are then streamed paragraph by paragraph.
/// </summary>
public static class SquadReader
{
    public static IEnumerable<SquadExample> Read(string path)
    {
        JsonDocument document;
        using (var stream = DataFile.OpenBytes(path))
        {
            try { document = JsonDocument.Parse(stream); }
            catch (JsonException e) { throw new DataFileException(path, e.LineNumber + 1, $"malformed JSON: {e.Message}", e); }
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
                throw new DataFileException(path, null, "not SQuAD json: expected an object with a \"data\" array");
            int articleIndex = 0;
            foreach (var article in data.EnumerateArray())
            {
                articleIndex++;
                string title = article.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
                foreach (var paragraph in Array(path, article, "paragraphs", $"data[{articleIndex - 1}]"))
                {
                    string context = String(path, paragraph, "context", $"article '{title}' paragraph");
                    foreach (var qa in Array(path, paragraph, "qas", $"article '{title}' paragraph"))
                    {
                        string id = String(path, qa, "id", $"article '{title}' question");
                        string question = String(path, qa, "question", $"question {id}");
                        var answers = new List<SquadAnswer>();
                        if (qa.TryGetProperty("answers", out var answerArray) && answerArray.ValueKind == JsonValueKind.Array)
                            foreach (var answer in answerArray.EnumerateArray())
                            {
                                string text = String(path, answer, "text", $"question {id} answer");
                                int start = answer.TryGetProperty("answer_start", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt32()
                                    : throw new DataFileException(path, null, $"question {id}: answer without a numeric answer_start");
                                answers.Add(new SquadAnswer(text, start));
                            }
                        yield return new SquadExample(id, title, context, question, answers.ToArray());
                    }
                }
            }
        }
    }

    static JsonElement.ArrayEnumerator Array(string path, JsonElement parent, string name, string where) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray()
            : throw new DataFileException(path, null, $"{where}: missing the \"{name}\" array");

    static string String(string path, JsonElement parent, string name, string where) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new DataFileException(path, null, $"{where}: missing the string field \"{name}\"");
}
