using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DistilBert.Server;

// The request and response shapes the OpenAPI document describes. Requests are read field by field (so an error can
// name the field and the type found), so the request records here only describe them; the /info and /v1/embeddings
// answers are written from these records. Fields that take several shapes are JsonElement, described in words.
// Thread-safety: every record here is immutable, so safe to share between threads.

[Description("TEI /embed request")]
public sealed record EmbedRequest(
    [property: JsonPropertyName("inputs"), Description("a string or an array of strings")] JsonElement Inputs,
    [property: JsonPropertyName("truncate"), Description("cut an over-long input to the model's limit (default false: refuse it with 413)")] bool? Truncate = null,
    [property: JsonPropertyName("normalize"), Description("L2-normalise the vectors (default true)")] bool? Normalize = null,
    [property: JsonPropertyName("model"), Description("a served model's name (default: the first feature-extraction model)")] string? Model = null);

[Description("TEI /predict request")]
public sealed record PredictRequest(
    [property: JsonPropertyName("inputs"), Description("a string, a pair [string, string], or a batch [[string] | [string, string], ...]")] JsonElement Inputs,
    [property: JsonPropertyName("truncate")] bool? Truncate = null,
    [property: JsonPropertyName("raw_scores"), Description("logits instead of probabilities")] bool? RawScores = null,
    [property: JsonPropertyName("model")] string? Model = null);

[Description("TEI /tokenize request")]
public sealed record TokenizeRequest(
    [property: JsonPropertyName("inputs"), Description("a string or an array of strings")] JsonElement Inputs,
    [property: JsonPropertyName("add_special_tokens"), Description("default true")] bool? AddSpecialTokens = null,
    [property: JsonPropertyName("model")] string? Model = null);

[Description("TEI /decode request")]
public sealed record DecodeRequest(
    [property: JsonPropertyName("ids"), Description("an array of token ids or an array of such arrays")] JsonElement Ids,
    [property: JsonPropertyName("skip_special_tokens"), Description("default true")] bool? SkipSpecialTokens = null,
    [property: JsonPropertyName("model")] string? Model = null);

[Description("OpenAI embeddings request")]
public sealed record OpenAIEmbeddingsRequest(
    [property: JsonPropertyName("input"), Description("a string or an array of strings (token-id arrays are refused)")] JsonElement Input,
    [property: JsonPropertyName("model"), Description("a served feature-extraction model's name")] string? Model = null,
    [property: JsonPropertyName("encoding_format"), Description("float (default) or base64")] string? EncodingFormat = null,
    [property: JsonPropertyName("dimensions"), Description("must equal the model's hidden size when given")] int? Dimensions = null,
    [property: JsonPropertyName("user"), Description("accepted and ignored")] string? User = null);

[Description("Hugging Face Inference API request")]
public sealed record HuggingFaceRequest(
    [property: JsonPropertyName("inputs"), Description("by task: a string or an array of strings; text-classification also {text, text_pair}; question-answering {question, context} or an array of them")] JsonElement Inputs,
    [property: JsonPropertyName("parameters")] HuggingFaceParameters? Parameters = null);

[Description("The parameters of transformers' pipelines; each task reads its own")]
public sealed record HuggingFaceParameters(
    [property: JsonPropertyName("top_k")] int? TopK = null,
    [property: JsonPropertyName("function_to_apply"), Description("softmax, sigmoid or none")] string? FunctionToApply = null,
    [property: JsonPropertyName("aggregation_strategy"), Description("none, simple, first, average or max")] string? AggregationStrategy = null,
    [property: JsonPropertyName("ignore_labels")] string[]? IgnoreLabels = null,
    [property: JsonPropertyName("max_answer_len")] int? MaxAnswerLen = null,
    [property: JsonPropertyName("doc_stride")] int? DocStride = null,
    [property: JsonPropertyName("max_seq_len")] int? MaxSeqLen = null,
    [property: JsonPropertyName("handle_impossible_answer")] bool? HandleImpossibleAnswer = null,
    [property: JsonPropertyName("align_to_words")] bool? AlignToWords = null,
    [property: JsonPropertyName("targets")] string[]? Targets = null,
    [property: JsonPropertyName("normalize")] bool? Normalize = null,
    [property: JsonPropertyName("truncate")] bool? Truncate = null);

[Description("OpenAI embeddings answer")]
public sealed record OpenAIEmbeddingsResponse(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("data")] OpenAIEmbedding[] Data,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("usage")] OpenAIUsage Usage);

public sealed record OpenAIEmbedding(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("embedding"), Description("an array of floats, or with encoding_format base64 their little-endian float32 bytes in base64")] object Embedding);

public sealed record OpenAIUsage(
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("total_tokens")] int TotalTokens);

[Description("TEI /info answer, plus every served model")]
public sealed record InfoResponse(
    [property: JsonPropertyName("model_id")] string ModelId,
    [property: JsonPropertyName("model_sha")] string? ModelSha,
    [property: JsonPropertyName("model_dtype")] string ModelDtype,
    [property: JsonPropertyName("model_type"), Description("{classifier: {id2label, label2id}}, {embedding: {pooling}} or {TASK: {}}")] object ModelType,
    [property: JsonPropertyName("max_concurrent_requests")] int MaxConcurrentRequests,
    [property: JsonPropertyName("max_input_length")] int MaxInputLength,
    [property: JsonPropertyName("max_batch_tokens")] int MaxBatchTokens,
    [property: JsonPropertyName("max_batch_requests")] int? MaxBatchRequests,
    [property: JsonPropertyName("max_client_batch_size")] int MaxClientBatchSize,
    [property: JsonPropertyName("auto_truncate")] bool AutoTruncate,
    [property: JsonPropertyName("tokenization_workers")] int TokenizationWorkers,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("sha")] string? Sha,
    [property: JsonPropertyName("docker_label")] string? DockerLabel,
    [property: JsonPropertyName("models")] InfoModel[] Models);

public sealed record InfoModel(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("task")] string Task,
    [property: JsonPropertyName("architecture")] string? Architecture,
    [property: JsonPropertyName("max_input_length")] int MaxInputLength);

[Description("An error of a TEI or Hugging Face route: RFC 9457 problem details with TEI's error and error_type")]
public sealed record ProblemResponse(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("status")] int Status,
    [property: JsonPropertyName("detail")] string Detail,
    [property: JsonPropertyName("error")] string Error,
    [property: JsonPropertyName("error_type"), Description("validation, empty, overloaded, unhealthy, unauthorized, backend")] string ErrorType,
    [property: JsonPropertyName("field"), Description("the JSON path at fault, when one field is")] string? Field);

[Description("An error of /v1/embeddings, as OpenAI's")]
public sealed record OpenAIErrorResponse([property: JsonPropertyName("error")] OpenAIError Error);

public sealed record OpenAIError(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("param")] string? Param,
    [property: JsonPropertyName("code")] string Code);
