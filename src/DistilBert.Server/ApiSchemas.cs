using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DistilBert.Server;

// The request and response shapes the OpenAPI document describes. Requests are read field by field (so an error can
// name the field and the type found), so the request records here only describe them; the /info and /v1/embeddings
// answers are written from these records. Fields that take several shapes are JsonElement, described in words.
// Thread-safety: every record here is immutable, so safe to share between threads.

/// <summary>
/// TEI's <c>/embed</c> request body, as the OpenAPI document shows it.
/// Immutable: safe to share between threads.
/// </summary>
/// <param name="Inputs">One text or an array of texts.</param>
/// <param name="Truncate">
/// Cut an over-long input to the model's limit instead of refusing it with 413 (default false).
/// </param>
/// <param name="Normalize">L2-normalise the vectors (default true).</param>
/// <param name="Model">A served model's name (default: the first feature-extraction model).</param>
[Description("TEI /embed request")]
public sealed record EmbedRequest(
    [property: JsonPropertyName("inputs"), Description("a string or an array of strings")] JsonElement Inputs,
    [property: JsonPropertyName("truncate"), Description("cut an over-long input to the model's limit (default false: refuse it with 413)")] bool? Truncate = null,
    [property: JsonPropertyName("normalize"), Description("L2-normalise the vectors (default true)")] bool? Normalize = null,
    [property: JsonPropertyName("model"), Description("a served model's name (default: the first feature-extraction model)")] string? Model = null);

/// <summary>
/// TEI's <c>/predict</c> request body: texts or text pairs to classify.
/// Immutable: safe to share between threads.
/// </summary>
/// <param name="Inputs">A text, a pair [text, text], or a batch of texts and pairs.</param>
/// <param name="Truncate">
/// Cut an over-long input to the model's limit instead of refusing it with 413 (default false).
/// </param>
/// <param name="RawScores">Logits instead of probabilities (default false).</param>
/// <param name="Model">A served model's name (default: the first text-classification model).</param>
[Description("TEI /predict request")]
public sealed record PredictRequest(
    [property: JsonPropertyName("inputs"), Description("a string, a pair [string, string], or a batch [[string] | [string, string], ...]")] JsonElement Inputs,
    [property: JsonPropertyName("truncate")] bool? Truncate = null,
    [property: JsonPropertyName("raw_scores"), Description("logits instead of probabilities")] bool? RawScores = null,
    [property: JsonPropertyName("model")] string? Model = null);

/// <summary>TEI's <c>/tokenize</c> request body. Immutable: safe to share between threads.</summary>
/// <param name="Inputs">One text or an array of texts.</param>
/// <param name="AddSpecialTokens">Add [CLS] and [SEP] (default true).</param>
/// <param name="Model">A served model's name (default: the first model).</param>
[Description("TEI /tokenize request")]
public sealed record TokenizeRequest(
    [property: JsonPropertyName("inputs"), Description("a string or an array of strings")] JsonElement Inputs,
    [property: JsonPropertyName("add_special_tokens"), Description("default true")] bool? AddSpecialTokens = null,
    [property: JsonPropertyName("model")] string? Model = null);

/// <summary>TEI's <c>/decode</c> request body. Immutable: safe to share between threads.</summary>
/// <param name="Ids">An array of token ids, or an array of such arrays.</param>
/// <param name="SkipSpecialTokens">Leave [CLS], [SEP] and padding out of the text (default true).</param>
/// <param name="Model">A served model's name (default: the first model).</param>
[Description("TEI /decode request")]
public sealed record DecodeRequest(
    [property: JsonPropertyName("ids"), Description("an array of token ids or an array of such arrays")] JsonElement Ids,
    [property: JsonPropertyName("skip_special_tokens"), Description("default true")] bool? SkipSpecialTokens = null,
    [property: JsonPropertyName("model")] string? Model = null);

/// <summary>OpenAI's <c>/v1/embeddings</c> request body. Immutable: safe to share between threads.</summary>
/// <param name="Input">One text or an array of texts (token-id arrays are refused).</param>
/// <param name="Model">A served feature-extraction model's name.</param>
/// <param name="EncodingFormat"><c>float</c> (default) or <c>base64</c>.</param>
/// <param name="Dimensions">Must equal the model's hidden size when given.</param>
/// <param name="User">Accepted and ignored, as OpenAI's clients send it.</param>
[Description("OpenAI embeddings request")]
public sealed record OpenAIEmbeddingsRequest(
    [property: JsonPropertyName("input"), Description("a string or an array of strings (token-id arrays are refused)")] JsonElement Input,
    [property: JsonPropertyName("model"), Description("a served feature-extraction model's name")] string? Model = null,
    [property: JsonPropertyName("encoding_format"), Description("float (default) or base64")] string? EncodingFormat = null,
    [property: JsonPropertyName("dimensions"), Description("must equal the model's hidden size when given")] int? Dimensions = null,
    [property: JsonPropertyName("user"), Description("accepted and ignored")] string? User = null);

/// <summary>
/// The Hugging Face Inference API's <c>/models/{name}</c> request body.
/// Immutable: safe to share between threads.
/// </summary>
/// <param name="Inputs">
/// By task: a text or texts; for text classification also {text, text_pair}; for question answering {question,
/// context}.
/// </param>
/// <param name="Parameters">The task's parameters, or null for its defaults.</param>
[Description("Hugging Face Inference API request")]
public sealed record HuggingFaceRequest(
    [property: JsonPropertyName("inputs"), Description("by task: a string or an array of strings; text-classification also {text, text_pair}; question-answering {question, context} or an array of them")] JsonElement Inputs,
    [property: JsonPropertyName("parameters")] HuggingFaceParameters? Parameters = null);

/// <summary>
/// The <c>parameters</c> of a Hugging Face Inference API request; each applies to the tasks whose pipeline has it.
/// Immutable: safe to share between threads.
/// </summary>
/// <param name="TopK">Results per input (classification labels, fill-mask tokens, answers).</param>
/// <param name="FunctionToApply">Classification scores: softmax, sigmoid or none.</param>
/// <param name="AggregationStrategy">Token classification: none, simple, first, average or max.</param>
/// <param name="IgnoreLabels">Token classification: labels left out of the answer (default O).</param>
/// <param name="MaxAnswerLen">Question answering: the longest answer, in tokens.</param>
/// <param name="DocStride">Question answering: tokens shared by consecutive windows of a long context.</param>
/// <param name="MaxSeqLen">Question answering: tokens per window, question included.</param>
/// <param name="HandleImpossibleAnswer">Question answering: allow the empty answer.</param>
/// <param name="AlignToWords">Question answering: widen answers to whole words.</param>
/// <param name="Targets">Fill-mask: score only these words.</param>
/// <param name="Normalize">Feature extraction: L2-normalise the vectors.</param>
/// <param name="Truncate">Cut an over-long input to the model's limit instead of refusing it.</param>
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

/// <summary>OpenAI's <c>/v1/embeddings</c> answer. Immutable: safe to share between threads.</summary>
/// <param name="Object">Always <c>list</c>.</param>
/// <param name="Data">One embedding per input, in input order.</param>
/// <param name="Model">The model that computed them.</param>
/// <param name="Usage">Tokens read.</param>
[Description("OpenAI embeddings answer")]
public sealed record OpenAIEmbeddingsResponse(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("data")] OpenAIEmbedding[] Data,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("usage")] OpenAIUsage Usage);

/// <summary>
/// One embedding of an OpenAI <c>/v1/embeddings</c> answer.
/// Immutable: safe to share between threads.
/// </summary>
/// <param name="Object">Always <c>embedding</c>.</param>
/// <param name="Index">The input's position in the request.</param>
/// <param name="Embedding">
/// The vector: floats, or with encoding_format base64 their little-endian float32 bytes in base64.
/// </param>
public sealed record OpenAIEmbedding(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("embedding"), Description("an array of floats, or with encoding_format base64 their little-endian float32 bytes in base64")] object Embedding);

/// <summary>Tokens an OpenAI <c>/v1/embeddings</c> request used. Immutable: safe to share between threads.</summary>
/// <param name="PromptTokens">Tokens of the inputs, special tokens included.</param>
/// <param name="TotalTokens">The same as <paramref name="PromptTokens"/>: embeddings generate nothing.</param>
public sealed record OpenAIUsage(
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("total_tokens")] int TotalTokens);

/// <summary>
/// TEI's <c>/info</c> answer: the default model and the server's limits.
/// Immutable: safe to share between threads.
/// </summary>
/// <param name="ModelId">The default model's name.</param>
/// <param name="ModelSha">The model's Hub revision, when known.</param>
/// <param name="ModelDtype">The weights' type (float32).</param>
/// <param name="ModelType">
/// TEI's model type: {classifier: {id2label, label2id}}, {embedding: {pooling}} or {TASK: {}}.
/// </param>
/// <param name="MaxConcurrentRequests">Requests served at once before 429.</param>
/// <param name="MaxInputLength">Tokens per input.</param>
/// <param name="MaxBatchTokens">Tokens per forward pass (the dynamic batcher's budget).</param>
/// <param name="MaxBatchRequests">Inputs per forward pass, when limited.</param>
/// <param name="MaxClientBatchSize">Inputs per request.</param>
/// <param name="AutoTruncate">Whether over-long inputs are cut instead of refused.</param>
/// <param name="TokenizationWorkers">Threads that tokenize.</param>
/// <param name="Version">The server's version.</param>
/// <param name="Sha">The commit the server was built from, when known.</param>
/// <param name="DockerLabel">TEI's image label; null here.</param>
/// <param name="Models">Every served model.</param>
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

/// <summary>One served model in the <c>/info</c> answer. Immutable: safe to share between threads.</summary>
/// <param name="Name">Its name in routes and requests.</param>
/// <param name="Task">Its pipeline task (feature-extraction, text-classification, ...).</param>
/// <param name="Architecture">Its config's architecture (DistilBertForSequenceClassification, ...).</param>
/// <param name="MaxInputLength">Tokens per input.</param>
public sealed record InfoModel(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("task")] string Task,
    [property: JsonPropertyName("architecture")] string? Architecture,
    [property: JsonPropertyName("max_input_length")] int MaxInputLength);

/// <summary>
/// An error answer (RFC 9457 problem+json), with TEI's <c>error</c> and <c>error_type</c> beside the standard fields.
/// Immutable: safe to share between threads.
/// </summary>
/// <param name="Type">A URI naming the kind of problem.</param>
/// <param name="Title">A short summary of the kind of problem.</param>
/// <param name="Status">The HTTP status code.</param>
/// <param name="Detail">What went wrong with this request.</param>
/// <param name="Error">The same as <paramref name="Detail"/>, under TEI's name.</param>
/// <param name="ErrorType">validation, empty, overloaded, unhealthy, unauthorized or backend.</param>
/// <param name="Field">The JSON path at fault, when one field is.</param>
[Description("An error of a TEI or Hugging Face route: RFC 9457 problem details with TEI's error and error_type")]
public sealed record ProblemResponse(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("status")] int Status,
    [property: JsonPropertyName("detail")] string Detail,
    [property: JsonPropertyName("error")] string Error,
    [property: JsonPropertyName("error_type"), Description("validation, empty, overloaded, unhealthy, unauthorized, backend")] string ErrorType,
    [property: JsonPropertyName("field"), Description("the JSON path at fault, when one field is")] string? Field);

/// <summary>OpenAI's error answer, given on the <c>/v1</c> routes. Immutable: safe to share between threads.</summary>
/// <param name="Error">The error.</param>
[Description("An error of /v1/embeddings, as OpenAI's")]
public sealed record OpenAIErrorResponse([property: JsonPropertyName("error")] OpenAIError Error);

/// <summary>The error inside an OpenAI error answer. Immutable: safe to share between threads.</summary>
/// <param name="Message">What went wrong.</param>
/// <param name="Type">OpenAI's error type (invalid_request_error, ...).</param>
/// <param name="Param">The request field at fault, when one is.</param>
/// <param name="Code">A machine-readable code.</param>
public sealed record OpenAIError(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("param")] string? Param,
    [property: JsonPropertyName("code")] string Code);
