import pytest

from fourlens.data import load_tokenizer, minilm_tokenizer_path, profile, token_class
from fourlens.data.corpus_profile import TokenizerMismatchError
from fourlens.data.diff import diff


def test_hf_tokenizer_counts_whole_documents_without_padding_or_special_tokens():
    tok = load_tokenizer(minilm_tokenizer_path())
    long_text = "word " * 1000  # MiniLM's tokenizer.json truncates at 512 and pads to 128 for the model
    counts, lengths = tok.count_tokens(["hello world", long_text])
    assert lengths == [2, 1000]
    assert counts["word"] == 1000 and "[PAD]" not in counts and "[CLS]" not in counts
    assert tok.identity.name.startswith("hf:") and len(tok.identity.vocab_hash) == 64
    assert "[CLS]" in tok.identity.special_tokens


def test_identities_differ_and_are_stable():
    assert load_tokenizer("words").identity == load_tokenizer(None).identity
    assert load_tokenizer("words").identity.vocab_hash != load_tokenizer(minilm_tokenizer_path()).identity.vocab_hash
    assert load_tokenizer(minilm_tokenizer_path().parent).identity == load_tokenizer(minilm_tokenizer_path()).identity


def test_comparing_profiles_of_different_tokenizers_is_an_error(corpora):
    words = profile(corpora["baseline"])
    hf = profile(corpora["baseline"], tokenizer=minilm_tokenizer_path())
    with pytest.raises(TokenizerMismatchError, match="different tokenizers.*same --tokenizer"):
        diff(words, hf)
    with pytest.raises(TokenizerMismatchError):
        words.merge(hf)


def test_bad_tokenizer_path(tmp_path):
    from fourlens.errors import BadInputError

    with pytest.raises(BadInputError, match="no tokenizer.json"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(BadInputError, match="not a Hugging Face tokenizer.json"):
        load_tokenizer(tmp_path)


@pytest.mark.parametrize("token,expected", [
    ("[CLS]", "special"), ("<|endoftext|>", "special"), ("Ċ", "whitespace"), ("▁", "whitespace"),
    ("2024", "digits"), ("##7", "digits"), ("=", "math"), ("\\frac", "math"), ("frac", "math"), ("∑", "math"),
    ("{", "code"), (";", "code"), ("def", "code"), ("->", "code"), ("Привет", "non_latin"), ("##и", "non_latin"),
    ("你好", "non_latin"), ("river", "other"), (".", "other"), ("Ġthe", "other"), ("Ġ{", "code"),
])
def test_token_classes(token, expected):
    assert token_class(token) == expected


@pytest.mark.parametrize("token,expected", [
    ("Ġ=", " ="), ("Ċ", "\n"), ("ĠĠ", "  "), ("Ã©t", "ét"), ("river", "river"), ("▁the", " the"),
    ("##ing", "ing"), ("<|end|>", "<|end|>"), ("é", "é"),   # a SentencePiece "é" is not byte 0xE9 alone
])
def test_display_token_gives_the_text_a_vocabulary_entry_stands_for(token, expected):
    from fourlens.data.classes import display_token

    assert display_token(token) == expected


def test_display_token_agrees_with_the_byte_level_decoder_on_a_whole_vocabulary():
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import decoders, models, pre_tokenizers, trainers

    from fourlens.data.classes import display_token

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    text = ["x = 1 + 2\n\tif y:  return 'café' → ∑ naïve", "déjà vu, 東京 and Zürich = 3 × 4\n\n"] * 50
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(text, trainer)
    checked = 0
    for entry, index in tok.get_vocab().items():
        decoded = tok.decode([index])
        if "\ufffd" in decoded:   # part of a multi-byte character: no text of its own
            continue
        assert display_token(entry) == decoded, entry
        checked += 1
    assert checked > 150   # every byte and the merges learnt from the two lines


def test_token_shift_titles_show_text_not_byte_level_symbols(corpora, tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    import json

    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = [json.loads(line)["text"] for shard in sorted(corpora["baseline"].rglob("*.jsonl"))
             for line in shard.read_text().splitlines()[:500]]
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=600, show_progress=False,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.save(str(tmp_path / "tokenizer.json"))
    findings = diff(profile(corpora["baseline"], tokenizer=tmp_path / "tokenizer.json"),
                    profile(corpora["no_math"], tokenizer=tmp_path / "tokenizer.json"))
    shift = [f for f in findings if f.title.startswith("token distribution shifted")]
    assert shift and "Ġ" not in shift[0].title and "Ċ" not in shift[0].title, shift[0].title if shift else findings
