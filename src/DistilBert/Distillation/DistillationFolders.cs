using DistilBert.Tokenization;

namespace DistilBert.Distillation;

/// <summary>Folder-level checks shared by general and task distillation.</summary>
public static class DistillationFolders
{
    static readonly string[] TokenizerFileNames = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

    static bool HasTokenizer(string dir) => File.Exists(Path.Combine(dir, "vocab.txt")) || File.Exists(Path.Combine(dir, "tokenizer.json"));

    /// <summary>
    /// The tokenizer both models read their input with: the student's when it has one, else the teacher's. When both
    /// folders hold a tokenizer their vocabularies must be identical token for token — soft targets compare
    /// distributions over the same ids.
    /// </summary>
    public static WordPieceTokenizer SharedTokenizer(string teacherDir, string? studentDir)
    {
        bool teacherHas = HasTokenizer(teacherDir), studentHas = studentDir is not null && HasTokenizer(studentDir);
        if (!teacherHas && !studentHas)
            throw new TokenizerFileException(teacherDir, "neither the teacher nor the student folder has a tokenizer (vocab.txt or tokenizer.json)");
        var teacherTok = teacherHas ? WordPieceTokenizer.FromFolder(teacherDir) : null;
        var studentTok = studentHas ? WordPieceTokenizer.FromFolder(studentDir!) : null;
        if (teacherTok is not null && studentTok is not null)
        {
            if (teacherTok.Vocab.Count != studentTok.Vocab.Count)
                throw new InvalidInputException($"teacher and student vocabularies differ: {teacherTok.Vocab.Count} tokens in {teacherDir}, {studentTok.Vocab.Count} in {studentDir}");
            for (int id = 0; id < teacherTok.Vocab.Count; id++)
                if (teacherTok.IdToToken(id) != studentTok.IdToToken(id))
                    throw new InvalidInputException($"teacher and student vocabularies differ at id {id}: '{teacherTok.IdToToken(id)}' in {teacherDir}, '{studentTok.IdToToken(id)}' in {studentDir}");
        }
        return studentTok ?? teacherTok!;
    }

    /// <summary>The tokenizer files of a folder (copied into every student folder written, so it loads on its own).</summary>
    public static IReadOnlyList<string> TokenizerFiles(string dir) =>
        TokenizerFileNames.Select(f => Path.Combine(dir, f)).Where(File.Exists).ToList();

    /// <summary>The special-token ids that masking never chooses.</summary>
    public static int[] SpecialTokenIds(WordPieceTokenizer tokenizer) =>
        [tokenizer.ClsId, tokenizer.SepId, tokenizer.PadId, tokenizer.MaskId, tokenizer.UnkId];
}
