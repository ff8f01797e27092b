namespace DistilBert.Tokenization;

/// <summary>One piece of a post-processing template: a sequence (A or B) or special token ids, with a type id.</summary>
/// <param name="Sequence">0 for $A, 1 for $B, -1 for a special token.</param>
/// <param name="SpecialIds">Ids written for a special piece (one token for BERT), empty for sequences.</param>
/// <param name="TypeId">The token_type_id of every token of this piece.</param>
public sealed record TemplatePiece(int Sequence, int[] SpecialIds, int TypeId)
{
    public static TemplatePiece Seq(int sequence, int typeId) => new(sequence, [], typeId);
    public static TemplatePiece Special(int id, int typeId) => new(-1, [id], typeId);
}

/// <summary>
/// Where special tokens go around one or two sequences (HF's TemplateProcessing). BERT:
/// single <c>[CLS] $A [SEP]</c>, pair <c>[CLS] $A [SEP] $B:1 [SEP]:1</c>.
/// </summary>
public sealed class Template
{
    public IReadOnlyList<TemplatePiece> Single => SinglePieces;
    public IReadOnlyList<TemplatePiece> Pair => PairPieces;
    internal TemplatePiece[] SinglePieces { get; }
    internal TemplatePiece[] PairPieces { get; }

    /// <summary>Number of special tokens added to a single sequence / a pair.</summary>
    public int AddedSingle { get; }
    public int AddedPair { get; }

    public Template(IReadOnlyList<TemplatePiece> single, IReadOnlyList<TemplatePiece> pair)
    {
        SinglePieces = single.ToArray();
        PairPieces = pair.ToArray();
        AddedSingle = single.Sum(p => p.SpecialIds.Length);
        AddedPair = pair.Sum(p => p.SpecialIds.Length);
    }

    public static Template Bert(int clsId, int sepId) => new(
        [TemplatePiece.Special(clsId, 0), TemplatePiece.Seq(0, 0), TemplatePiece.Special(sepId, 0)],
        [TemplatePiece.Special(clsId, 0), TemplatePiece.Seq(0, 0), TemplatePiece.Special(sepId, 0),
            TemplatePiece.Seq(1, 1), TemplatePiece.Special(sepId, 1)]);

    internal bool IsBert(int clsId, int sepId)
    {
        var bert = Bert(clsId, sepId);
        return Same(Single, bert.Single) && Same(Pair, bert.Pair);

        static bool Same(IReadOnlyList<TemplatePiece> a, IReadOnlyList<TemplatePiece> b) =>
            a.Count == b.Count && a.Zip(b).All(x => x.First.Sequence == x.Second.Sequence
                && x.First.TypeId == x.Second.TypeId && x.First.SpecialIds.SequenceEqual(x.Second.SpecialIds));
    }
}
