using System.IO.Compression;
using System.Text;
using DistilBert.Data;

namespace DistilBert.Tests;

public sealed class DataReaderTests : IDisposable
{
    readonly TempDirectory _tmp = new("data");
    string folder => _tmp.Path;

    public void Dispose() => _tmp.Dispose();

    string Write(string name, string content)
    {
        var path = Path.Combine(folder, name);
        File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }

    [Fact]
    public void Tsv_with_header_reads_sentence_and_label_as_sst2_does()
    {
        var path = Write("train.tsv", "sentence\tlabel\nhide new secretions \t0\ngreat fun \t1\n");
        var rows = TextClassificationReader.Read(path).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal(new TextExample(2, "hide new secretions ", null, "0"), rows[0]);
        Assert.Equal(new TextExample(3, "great fun ", null, "1"), rows[1]);
    }

    [Fact]
    public void Csv_quotes_hold_commas_doubled_quotes_and_newlines()
    {
        var path = Write("x.csv", "id,review,stars\n1,\"good, \"\"really\"\" good\",5\n2,\"two\nlines\",3\n3,plain,1\n");
        var rows = TextClassificationReader.Read(path, new TextColumns(Text: "review", Label: "stars")).ToList();
        Assert.Equal(["good, \"really\" good", "two\nlines", "plain"], rows.Select(r => r.Text));
        Assert.Equal(["5", "3", "1"], rows.Select(r => r.Label!));
        Assert.Equal([2L, 3L, 5L], rows.Select(r => r.Line));
    }

    [Fact]
    public void Headerless_tsv_takes_first_column_as_text_and_last_as_label_or_explicit_indices()
    {
        var path = Write("x.tsv", "a b\tx\t1\nc d\ty\t0\n");
        var rows = TextClassificationReader.Read(path).ToList();
        Assert.Equal(("a b", "1"), (rows[0].Text, rows[0].Label));
        var byIndex = TextClassificationReader.Read(path, new TextColumns(Text: "1", Label: "2")).First();
        Assert.Equal(("x", "1"), (byIndex.Text, byIndex.Label));
    }

    [Fact]
    public void Unterminated_quote_and_unknown_column_name_the_file_and_line()
    {
        var bad = Write("bad.csv", "text,label\n\"never closed,1\n");
        var e = Assert.Throws<DataFileException>(() => TextClassificationReader.Read(bad).ToList());
        Assert.Equal(2, e.Line);
        Assert.Contains("unterminated", e.Message);
        var ok = Write("ok.csv", "text,label\nhi,1\n");
        var missing = Assert.Throws<DataFileException>(() => TextClassificationReader.Read(ok, new TextColumns(Text: "body")).ToList());
        Assert.Contains("'body'", missing.Message);
        Assert.Contains("text, label", missing.Message);
    }

    [Fact]
    public void Jsonl_reads_text_pair_and_numeric_label_and_reports_a_malformed_line_by_number()
    {
        var path = Write("x.jsonl", "{\"text\": \"a\", \"label\": 1}\n\n{\"sentence\": \"b\", \"text_pair\": \"c\"}\n{oops\n\"just a string\"\n");
        var e = Assert.Throws<DataFileException>(() => TextClassificationReader.Read(path).ToList());
        Assert.Equal(4, e.Line);
        Assert.Contains("x.jsonl:4:", e.Message);

        var errors = new List<DataFileException>();
        var rows = TextClassificationReader.Read(path, onBadLine: errors.Add).ToList();
        Assert.Equal([new TextExample(1, "a", null, "1"), new TextExample(3, "b", "c", null), new TextExample(5, "just a string")], rows);
        Assert.Equal(4, Assert.Single(errors).Line);
    }

    [Fact]
    public void Jsonl_missing_text_field_is_a_data_error()
    {
        var path = Write("x.jsonl", "{\"body\": \"a\"}\n");
        var e = Assert.Throws<DataFileException>(() => TextClassificationReader.Read(path).ToList());
        Assert.Contains("missing the text field", e.Message);
    }

    [Fact]
    public void Gzipped_jsonl_and_plain_text_stream()
    {
        var path = Path.Combine(folder, "x.jsonl.gz");
        using (var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest))
            gz.Write("{\"text\": \"zipped\", \"label\": 0}\n"u8);
        Assert.Equal("zipped", TextClassificationReader.Read(path).Single().Text);

        var txt = Write("x.txt", "first\n\n  \nsecond\n");
        Assert.Equal([new TextExample(1, "first"), new TextExample(4, "second")], TextClassificationReader.Read(txt).ToList());
    }

    [Fact]
    public void Conll_splits_sentences_on_blank_lines_skips_docstart_and_takes_last_column_as_tag()
    {
        var path = Write("x.conll", "-DOCSTART- -X- O O\n\nEmpire\tB-location\nState\tI-location\n\t\nhi\tO\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n");
        var sentences = ConllReader.Read(path).ToList();
        Assert.Equal(3, sentences.Count);
        Assert.Equal(["Empire", "State"], sentences[0].Tokens);
        Assert.Equal(["B-location", "I-location"], sentences[0].Tags);
        Assert.Equal(3, sentences[0].Line);
        Assert.Equal(["hi"], sentences[1].Tokens);
        Assert.Equal(["B-ORG", "O"], sentences[2].Tags);
    }

    [Fact]
    public void Conll_line_without_tag_is_reported()
    {
        var path = Write("x.conll", "a\tO\nlonely\n");
        var e = Assert.Throws<DataFileException>(() => ConllReader.Read(path).ToList());
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void Squad_json_yields_questions_with_answers()
    {
        var path = Write("s.json", """
            {"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": "Paris is in France.",
              "qas": [{"id": "q1", "question": "Where is Paris?", "answers": [{"text": "France", "answer_start": 12}]},
                      {"id": "q2", "question": "What?", "answers": []}]}]}]}
            """);
        var examples = SquadReader.Read(path).ToList();
        Assert.Equal(2, examples.Count);
        Assert.Equal("q1", examples[0].Id);
        Assert.Equal("France", examples[0].Context.Substring(examples[0].Answers[0].Start, examples[0].Answers[0].Text.Length));
        Assert.Empty(examples[1].Answers);

        var bad = Write("b.json", "{\"data\": [{\"title\": \"T\", \"paragraphs\": [{\"qas\": []}]}]}");
        Assert.Contains("\"context\"", Assert.Throws<DataFileException>(() => SquadReader.Read(bad).ToList()).Message);
    }

    [Fact]
    public void Missing_file_is_a_data_error_naming_it()
    {
        var path = Path.Combine(folder, "nope.tsv");
        var e = Assert.Throws<DataFileException>(() => TextClassificationReader.Read(path).ToList());
        Assert.Equal(path, e.FilePath);
    }
}
