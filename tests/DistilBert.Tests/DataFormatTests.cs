using System.IO.Compression;
using System.Text;
using DistilBert.Data;

namespace DistilBert.Tests;

/// <summary>
/// Files in the wrong format are refused at the line (or JSON path) that shows it, naming what was expected; text
/// that is not UTF-8 is refused with its line and byte offset; predictions read no label.
/// </summary>
public sealed class DataFormatTests : IDisposable
{
    readonly TempDirectory _tmp = new("data-format");

    public void Dispose() => _tmp.Dispose();

    string Write(string name, string content) => WriteBytes(name, new UTF8Encoding(false).GetBytes(content));

    string WriteBytes(string name, byte[] content)
    {
        var path = Path.Combine(_tmp.Path, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    const string Sst2 = "sentence\tlabel\nhide new secretions from the parental units \t0\ncontains no wit \t0\n";

    [Fact]
    public void Conll_refuses_a_tsv_of_sentences()
    {
        var e = Assert.Throws<DataFileException>(() => ConllReader.Read(Write("validation.tsv", Sst2)).ToList());
        Assert.Equal(2, e.Line);
        Assert.Contains("validation.tsv:2: a field holds spaces ('hide new secretions from the parental...')", e.Message);
        Assert.Contains("expected CoNLL: one token per line, 'token<TAB>tag'", e.Message);
    }

    [Fact]
    public void Conll_refuses_sentences_split_on_spaces_and_json()
    {
        var text = Assert.Throws<DataFileException>(() => ConllReader.Read(Write("notes.txt", "the cat sat\non the mat today\n")).ToList());
        Assert.Equal(2, text.Line);
        Assert.Contains("4 fields where the first space-separated token line has 3", text.Message);

        var json = Assert.Throws<DataFileException>(() => ConllReader.Read(Write("x.jsonl", "{\"text\": \"a b\", \"label\": 1}\n")).ToList());
        Assert.Contains("this looks like JSON, not CoNLL", json.Message);
    }

    [Fact]
    public void Tsv_with_a_comma_separated_header_is_refused()
    {
        var e = Assert.Throws<DataFileException>(() => TextClassificationReader.Read(Write("x.tsv", "sentence,label\ngood,1\n")).ToList());
        Assert.Equal(1, e.Line);
        Assert.Contains("the header is separated by ',', not a tab: expected a tab-separated .tsv file", e.Message);
        // One column of texts holding commas is a fine headerless tsv.
        Assert.Equal(["hello, world", "so, what"], TextClassificationReader.Read(Write("y.tsv", "hello, world\nso, what\n")).Select(r => r.Text));
    }

    [Fact]
    public void A_row_with_more_fields_than_the_header_is_refused_or_skipped_on_request()
    {
        var path = Write("x.csv", "sentence,label\nhello, world,1\nfine,0\n");
        var e = Assert.Throws<DataFileException>(() => TextClassificationReader.Read(path).ToList());
        Assert.Equal(2, e.Line);
        Assert.Contains("3 fields where the header has 2: a text holding ',' must be quoted", e.Message);

        var skipped = new List<DataFileException>();
        Assert.Equal(["fine"], TextClassificationReader.Read(path, onBadLine: skipped.Add).Select(r => r.Text));
        Assert.Equal(2, Assert.Single(skipped).Line);
    }

    [Fact]
    public void Json_holds_json_lines_and_a_json_document_is_named_as_such()
    {
        Assert.Equal(["a", "b"], TextClassificationReader.Read(Write("x.json", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n")).Select(r => r.Text));
        var e = Assert.Throws<DataFileException>(() => TextClassificationReader.Read(Write("squad.json", "{\n  \"data\": []\n}\n")).ToList());
        Assert.Equal(1, e.Line);
        Assert.Contains("this is one JSON document, not JSON lines: expected one JSON object per line", e.Message);
    }

    [Fact]
    public void Predictions_read_no_label_and_rows_without_one_are_fine()
    {
        var path = Write("test.tsv", "sentence\tlabel\nwhat a film \t\nnice\n");
        var rows = TextClassificationReader.Read(path, new TextColumns(ReadLabels: false)).ToList();
        Assert.Equal(["what a film ", "nice"], rows.Select(r => r.Text));
        Assert.All(rows, r => Assert.Null(r.Label));
        var labelled = Assert.Throws<DataFileException>(() => TextClassificationReader.Read(path).ToList());
        Assert.Equal(3, labelled.Line);
        Assert.Contains("the label column is number 2", labelled.Message);
    }

    [Fact]
    public void Squad_reader_names_the_json_path_of_what_is_not_squad()
    {
        var flattened = Write("flat.json", """{"data": [{"id": "1", "title": "t", "context": "c", "question": "q", "answers": {"text": ["c"], "answer_start": [0]}}]}""");
        var e = Assert.Throws<DataFileException>(() => SquadReader.Read(flattened).ToList());
        Assert.Contains("flat.json: data[0]: missing \"paragraphs\" (an array); expected SQuAD v1.1 json", e.Message);

        var answersObject = Write("answers.json", """{"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "1", "question": "q", "answers": {"text": ["c"]}}]}]}]}""");
        Assert.Contains("data[0].paragraphs[0].qas[0].answers: expected an array, found Object",
            Assert.Throws<DataFileException>(() => SquadReader.Read(answersObject).ToList()).Message);

        var outside = Write("outside.json", """{"data": [{"paragraphs": [{"context": "short", "qas": [{"id": "1", "question": "q", "answers": [{"text": "far", "answer_start": 40}]}]}]}]}""");
        Assert.Contains("data[0].paragraphs[0].qas[0].answers[0]: the answer (40, 3 chars) lies outside its 5-char context",
            Assert.Throws<DataFileException>(() => SquadReader.Read(outside).ToList()).Message);

        var empty = Write("empty.json", """{"data": []}""");
        Assert.Contains("holds no questions", Assert.Throws<DataFileException>(() => SquadReader.Read(empty).ToList()).Message);
    }

    [Fact]
    public void Invalid_utf8_is_refused_with_its_line_and_byte_offset()
    {
        var path = WriteBytes("bad.txt", [.. "one\ntwo\nthr"u8, 0xFF, .. "ee\n"u8]);
        var e = Assert.Throws<DataFileException>(() => TextClassificationReader.Read(path).ToList());
        Assert.Equal(3, e.Line);
        Assert.Contains("bad.txt:3: not UTF-8 text: invalid byte 0xFF at byte offset 11", e.Message);

        var utf16 = WriteBytes("utf16.txt", [0xFF, 0xFE, .. Encoding.Unicode.GetBytes("hi\n")]);
        Assert.Contains("a UTF-16 byte-order mark", Assert.Throws<DataFileException>(() => TextLinesReader.Read(utf16).ToList()).Message);

        var cut = WriteBytes("cut.txt", [.. "fine\nend "u8, 0xE2, 0x82]); // a 3-byte sequence cut short by the end of the file
        Assert.Equal(2, Assert.Throws<DataFileException>(() => TextLinesReader.Read(cut).ToList()).Line);

        var squad = WriteBytes("s.json", [.. """{"data": [{"paragraphs": [{"context": "c"""u8, 0xC0, 0xAF, .. "\"}]}]}"u8]);
        Assert.Contains("not UTF-8 text", Assert.Throws<DataFileException>(() => SquadReader.Read(squad).ToList()).Message);

        var gz = Path.Combine(_tmp.Path, "bad.txt.gz");
        using (var stream = new GZipStream(File.Create(gz), CompressionLevel.Fastest)) stream.Write([.. "ok\n"u8, 0x80, .. "\n"u8]);
        Assert.Equal(2, Assert.Throws<DataFileException>(() => TextLinesReader.Read(gz).ToList()).Line);
    }

    [Fact]
    public void Valid_utf8_split_across_read_buffers_reads_unchanged()
    {
        // Multi-byte characters straddle every 64 KiB buffer boundary somewhere in 300 KB of mixed text.
        var line = "naïve café — 東京 😀 ";
        var text = string.Concat(Enumerable.Repeat(line + "\n", 300_000 / Encoding.UTF8.GetByteCount(line)));
        var path = Write("mixed.txt", text);
        Assert.Equal(text.Split('\n', StringSplitOptions.RemoveEmptyEntries), TextLinesReader.Read(path).Select(l => l.Text));
        using var reader = DataFile.OpenText(path);
        Assert.Equal(text, reader.ReadToEnd());
    }
}
