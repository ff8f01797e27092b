namespace DistilBert;

// The small set of exception types the public API throws (design note 6). Each message names the file,
// tensor, field, line or limit at fault; nothing below the API should surface IndexOutOfRange or NullReference.

/// <summary>Base type of every error the library reports about its inputs.</summary>
public abstract class DistilBertException : Exception
{
    /// <summary>Creates the error with its message, naming the culprit, and the error that caused it, if any.</summary>
    protected DistilBertException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A model file (config.json, safetensors, pytorch_model.bin, index) is missing, malformed or hostile.</summary>
public sealed class ModelFileException : DistilBertException
{
    /// <summary>The file at fault, or null when the error is not about one file.</summary>
    public string? FilePath { get; }
    /// <summary>Creates the error; the message is prefixed with <paramref name="filePath"/> when given.</summary>
    public ModelFileException(string? filePath, string message, Exception? inner = null)
        : base(filePath is null ? message : $"{filePath}: {message}", inner) => FilePath = filePath;
}

/// <summary>A tokenizer file (vocab.txt, tokenizer.json, tokenizer_config.json) is missing or malformed.</summary>
public sealed class TokenizerFileException : DistilBertException
{
    /// <summary>The file at fault, or null when the error is not about one file.</summary>
    public string? FilePath { get; }
    /// <summary>Creates the error; the message is prefixed with <paramref name="filePath"/> when given.</summary>
    public TokenizerFileException(string? filePath, string message, Exception? inner = null)
        : base(filePath is null ? message : $"{filePath}: {message}", inner) => FilePath = filePath;
}

/// <summary>Inputs handed to a model or pipeline are invalid (ids out of range, shapes that disagree, too long...).</summary>
public sealed class InvalidInputException : DistilBertException
{
    /// <summary>Creates the error with its message, naming the input at fault.</summary>
    public InvalidInputException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A data file (tsv, jsonl, CoNLL, SQuAD json, corpus) has a bad line or field.</summary>
public sealed class DataFileException : DistilBertException
{
    /// <summary>The file at fault, or null for data that did not come from a file.</summary>
    public string? FilePath { get; }
    /// <summary>The 1-based line at fault, or null when the error is about the whole file.</summary>
    public long? Line { get; }
    /// <summary>Creates the error; the message is prefixed with <c>file:line</c> when given.</summary>
    public DataFileException(string? filePath, long? line, string message, Exception? inner = null)
        : base(Format(filePath, line, message), inner) { FilePath = filePath; Line = line; }

    static string Format(string? file, long? line, string message) =>
        file is null ? message : line is null ? $"{file}: {message}" : $"{file}:{line}: {message}";
}
