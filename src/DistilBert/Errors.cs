namespace DistilBert;

// The small set of exception types the public API throws (design note 6). Each message names the file,
// tensor, field, line or limit at fault; nothing below the API should surface IndexOutOfRange or NullReference.

/// <summary>Base type of every error the library reports about its inputs.</summary>
public abstract class DistilBertException : Exception
{
    protected DistilBertException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A model file (config.json, safetensors, pytorch_model.bin, index) is missing, malformed or hostile.</summary>
public sealed class ModelFileException : DistilBertException
{
    public string? FilePath { get; }
    public ModelFileException(string? filePath, string message, Exception? inner = null)
        : base(filePath is null ? message : $"{filePath}: {message}", inner) => FilePath = filePath;
}

/// <summary>A tokenizer file (vocab.txt, tokenizer.json, tokenizer_config.json) is missing or malformed.</summary>
public sealed class TokenizerFileException : DistilBertException
{
    public string? FilePath { get; }
    public TokenizerFileException(string? filePath, string message, Exception? inner = null)
        : base(filePath is null ? message : $"{filePath}: {message}", inner) => FilePath = filePath;
}

/// <summary>Inputs handed to a model or pipeline are invalid (ids out of range, shapes that disagree, too long...).</summary>
public sealed class InvalidInputException : DistilBertException
{
    public InvalidInputException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A data file (tsv, jsonl, CoNLL, SQuAD json, corpus) has a bad line or field.</summary>
public sealed class DataFileException : DistilBertException
{
    public string? FilePath { get; }
    public long? Line { get; }
    public DataFileException(string? filePath, long? line, string message, Exception? inner = null)
        : base(Format(filePath, line, message), inner) { FilePath = filePath; Line = line; }

    static string Format(string? file, long? line, string message) =>
        file is null ? message : line is null ? $"{file}: {message}" : $"{file}:{line}: {message}";
}
