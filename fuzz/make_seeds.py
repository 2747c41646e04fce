#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ (Python standard
library only; deterministic, so re-running it changes nothing).

Seeds are small valid inputs, plus a few near misses, that reach each parser's main paths; the
fuzzer mutates from there. The checkpoint seeds are made the way the real writers make them:
safetensors by its spec, torch.save's data.pkl by Python's own pickle.Pickler (protocol 2, tensors
as persistent ids, as torch.save does) over stand-ins for the few torch classes a checkpoint
names, and its archive by zipfile with stored entries.

Regression seeds (inputs that once crashed a target) are not made here: they are committed as
found, named regression-*.

Usage: fuzz/make_seeds.py
"""

import collections
import io
import json
import pathlib
import pickle
import struct
import sys
import types
import zipfile

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"


def write(target, name, data):
    path = CORPUS / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


# --- text: utf8, tokenizer, segmenter -------------------------------------------------------

def text_seeds():
    write("utf8", "ascii", "hello, world\n")
    write("utf8", "chinese", "张三在北京工作。")
    write("utf8", "emoji_zwj", "家庭👩\u200d👩\u200d👧 e\u0301 \U0010FFFF")
    write("utf8", "overlong", b"ok \xc0\xaf")
    write("utf8", "surrogate", b"\xed\xa0\x80 \xed\xbf\xbf")
    write("utf8", "truncated", b"\xe4\xb8\xad\xe4\xb8")
    write("utf8", "above_max", b"\xf4\x90\x80\x80 \xf8\x88\x80\x80\x80")

    write("tokenizer", "entities", "[张三]在[北京]工作。")
    write("tokenizer", "word_pieces", "iPhone12 和 2021年，ab bb x xxxx")
    write("tokenizer", "fullwidth", "ＡＢＣ１２３　ｉｐｈｏｎｅ！")
    write("tokenizer", "extending", "\u0301开头 e\u0301 😀\ufe0f 👍🏽 a\u200db")
    write("tokenizer", "long_word", "x" * 20 + " " + "a1" * 8)
    write("tokenizer", "controls", "\t张\u200b三\u00ad\r\n[ ]北\ufeff京[]")
    write("tokenizer", "vocab", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n张\n##b\r\n\n张\n")

    # First byte: max_chars = 1 + byte % 64 ('D' -> 5, 'C' -> 4, 'H' -> 9, '@' -> 1).
    write("segmenter", "sentences", "D张三说：“你好。”李四笑了！然后呢？好；")
    write("segmenter", "soft_breaks", "C一二三，四五六、七八：九十 十一")
    write("segmenter", "hard_cut", "Caaaaaaaaaaaaaaaaa")
    write("segmenter", "extending", "Ce\u0301\u0301\u0301\u0301\u0301x\u200d\u200d\u200d\u200d")
    write("segmenter", "closers", "H好。」』）】》”’\"')]}再见！！！」")
    write("segmenter", "lines", "@line one\nline two\r\nline three\u2028four")


# --- dataset ------------------------------------------------------------------------------------

def char_per_line(rows):
    return "".join("\n" if row is None else f"{row[0]} {row[1]}\n" for row in rows)


def dataset_seeds():
    # First byte: '0' auto format, detected scheme; '4' char-per-line, BIO; '2' JSONL.
    bio = char_per_line([("张", "B-PER"), ("三", "I-PER"), ("在", "O"), ("北", "B-LOC"),
                         ("京", "I-LOC"), None, ("李", "I-PER"), ("四", "I-PER"), (" ", "O"),
                         ("好", "B-ORG"), None])
    write("dataset", "bio", "0" + bio)
    write("dataset", "bio_explicit", "4" + bio)
    write("dataset", "bmes", "0" + char_per_line([
        ("高", "B-NAME"), ("勇", "E-NAME"), ("，", "O"), ("男", "S-CONT"), ("中", "B-ORG"),
        ("国", "M-ORG"), ("银", "M-ORG"), ("行", "E-ORG"), None]))
    write("dataset", "bioes_crlf", "0" + char_per_line([
        ("A", "S-X"), ("b", "B-Y"), ("c", "I-Y"), ("d", "E-Y"), ("\t", "O")]).replace("\n", "\r\n"))
    write("dataset", "missing_tag", "0张 B-PER\n三\n")
    jsonl = "\n".join(json.dumps(d, ensure_ascii=False) for d in [
        {"id": "a", "text": "张三在北京工作", "entities": [
            {"start": 0, "end": 2, "type": "PER"}, {"start": 3, "end": 5, "type": "LOC"}]},
        {"text": "没有实体。"},
        {"id": 7, "text": "李四\n😀", "entities": None},
        {"id": "b", "text": "相邻", "entities": [
            {"start": 1, "end": 2, "type": "A"}, {"start": 0, "end": 1, "type": "A"}]},
    ]) + "\n"
    write("dataset", "jsonl", "2" + jsonl)
    write("dataset", "jsonl_overlap", "2" + json.dumps({"text": "重叠", "entities": [
        {"start": 0, "end": 2, "type": "A"}, {"start": 1, "end": 2, "type": "B"}]}) + "\n")
    write("dataset", "jsonl_auto", "0\r\n\n" + jsonl.split("\n")[0] + "\r\n")


# --- config -------------------------------------------------------------------------------------

def config_seeds():
    nezha = {"architectures": ["NeZhaForMaskedLM"], "model_type": "nezha", "vocab_size": 120,
             "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
             "intermediate_size": 64, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
             "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64,
             "max_relative_position": 16, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
             "initializer_range": 0.02, "use_relative_position": True}
    bert = {"model_type": "bert", "vocab_size": 120, "hidden_size": 24.0,
            "num_hidden_layers": 1, "num_attention_heads": 3, "intermediate_size": 48,
            "hidden_act": "gelu_new", "max_position_embeddings": 40, "layer_norm_eps": 1e-5,
            "pooler_type": "first_token_transform"}
    write("config", "encoder_nezha.json", json.dumps(nezha, indent=2))
    write("config", "encoder_bert.json", json.dumps(bert))
    write("config", "encoder_no_type.json", json.dumps({"max_relative_position": 8,
                                                         "hidden_size": 16,
                                                         "num_attention_heads": 2}))
    head = {"char_embedding_dim": 16, "lstm_hidden": 8, "dropout": 0.1, "dynamic_fusion": False}
    model = {"format": "ner-service-checkpoint", "format_version": 1, "variant": "bilstm-crf",
             "vocab_size": 120, "head": head, "tag_scheme": "bio",
             "labels": ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"], "max_chars": 128,
             "provenance": {"data": "seed", "f1": 0.5}}
    write("config", "model_bilstm.json", json.dumps(model, indent=2))
    nezha_model = dict(model, variant="nezha-df-bilstm-crf", tag_scheme="bmes",
                       labels=["O", "B-ORG", "M-ORG", "E-ORG", "S-ORG"],
                       head=dict(head, dynamic_fusion=True), encoder=nezha)
    write("config", "model_nezha_df.json", json.dumps(nezha_model))
    write("config", "model_bad_labels.json", json.dumps(dict(model, labels=["B-LOC", "O"])))


# --- safetensors --------------------------------------------------------------------------------

def safetensors_file(tensors, metadata=None, order=None, pad=8):
    """tensors: name -> (dtype, shape, data bytes); laid out in `order` (default: name order)."""
    header, data = {}, b""
    for name in order or sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % pad)
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds():
    f32 = struct.pack("<4f", 1.0, -2.5, 0.0, 3.25)
    write("safetensors", "small", safetensors_file(
        {"embeddings.weight": ("F32", [2, 2], f32), "step": ("I64", [], struct.pack("<q", 42))},
        metadata={"format": "pt", "note": "seed"}))
    write("safetensors", "dtypes", safetensors_file({
        "bf16": ("BF16", [3], b"\x80\x3f\x00\x40\x40\x40"), "f16": ("F16", [1, 1], b"\x00\x3c"),
        "f64": ("F64", [1], struct.pack("<d", 0.5)), "i32": ("I32", [2], struct.pack("<2i", -1, 7)),
        "i16": ("I16", [1], b"\x01\x00"), "i8": ("I8", [2], b"\xff\x01"),
        "u8": ("U8", [2, 1], b"\x00\xff"), "bool": ("BOOL", [2], b"\x00\x01"),
        "empty": ("F32", [0, 5], b"")}))
    write("safetensors", "reversed_layout", safetensors_file(
        {"a": ("F32", [1], struct.pack("<f", 1.0)), "b": ("F32", [2], struct.pack("<2f", 2, 3))},
        order=["b", "a"], pad=1))
    bad = bytearray(safetensors_file({"x": ("F32", [2], struct.pack("<2f", 1, 2))}))
    write("safetensors", "truncated", bytes(bad[:-3]))


# --- torch.save checkpoints: the pickle and the archive -----------------------------------------

def torch_stand_ins():
    """Modules `torch` and `torch._utils` holding the names a checkpoint pickle refers to."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    torch._utils = utils
    sys.modules.update({"torch": torch, "torch._utils": utils})
    for name in ("FloatStorage", "LongStorage", "HalfStorage", "BoolStorage"):
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch, name, cls)

    def _rebuild_tensor_v2(*args):
        raise NotImplementedError

    def _rebuild_parameter(*args):
        raise NotImplementedError

    for fn in (_rebuild_tensor_v2, _rebuild_parameter):
        fn.__module__, fn.__qualname__ = "torch._utils", fn.__name__
        setattr(utils, fn.__name__, fn)
    return torch, utils


TORCH, TORCH_UTILS = torch_stand_ins()


class Storage:
    def __init__(self, kind, key, numel):
        self.kind, self.key, self.numel = kind, key, numel


class Tensor:
    def __init__(self, storage, offset, size, stride, parameter=False):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())
        self.parameter = parameter

    def __reduce_ex__(self, protocol):
        rebuilt = (TORCH_UTILS._rebuild_tensor_v2, self.args)
        if not self.parameter:
            return rebuilt
        return (TORCH_UTILS._rebuild_parameter, (_Rebuilt(*rebuilt), True, collections.OrderedDict()))


class _Rebuilt:
    """An object that pickles as `fn(*args)`: a tensor inside a parameter's arguments."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce_ex__(self, protocol):
        return (self.fn, self.args)


class TorchPickler(pickle.Pickler):
    """Protocol 2 with storages as persistent ids, as torch.save's pickler does."""

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(TORCH, obj.kind), obj.key, "cpu", obj.numel)
        return None


def torch_pickle(state):
    buffer = io.BytesIO()
    TorchPickler(buffer, protocol=2).dump(state)
    return buffer.getvalue()


def torch_zip(pickle_bytes, storages):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        def add(name, data):
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
        add("archive/data.pkl", pickle_bytes)
        add("archive/byteorder", "little")
        for key, data in storages.items():
            add(f"archive/data/{key}", data)
        add("archive/version", "3\n")
    return buffer.getvalue()


def checkpoint_seeds():
    # The torch_pickle target supplies storages "0".."3" of 256 bytes each.
    s0 = Storage("FloatStorage", "0", 64)
    s1 = Storage("LongStorage", "1", 8)
    state = collections.OrderedDict()
    state["encoder.weight"] = Tensor(s0, 0, [2, 3], [3, 1])
    state["encoder.weight_t"] = Tensor(s0, 0, [3, 2], [1, 3])  # A transposed view, shared storage.
    state["encoder.bias"] = Tensor(s0, 6, [3], [1])
    state["steps"] = Tensor(s1, 2, [], [])
    state._metadata = collections.OrderedDict([("", {"version": 1})])  # BUILD, as state_dict() has.
    write("torch_pickle", "state_dict", torch_pickle(state))
    write("torch_pickle", "parameter", torch_pickle(
        {"crf.transitions": Tensor(Storage("FloatStorage", "2", 16), 0, [4, 4], [4, 1], True)}))
    write("torch_pickle", "half_bool_broadcast", torch_pickle(collections.OrderedDict([
        ("mask", Tensor(Storage("BoolStorage", "3", 4), 0, [2, 4], [0, 1])),
        ("half", Tensor(Storage("HalfStorage", "3", 128), 1, [2, 2, 2], [8, 2, 1]))])))
    write("torch_pickle", "not_a_dict", torch_pickle([1, 2.5, "x", None, True, (3,), {"k": -70000}]))

    small = collections.OrderedDict()
    small["w"] = Tensor(Storage("FloatStorage", "0", 4), 0, [2, 2], [2, 1])
    small["w_t"] = Tensor(Storage("FloatStorage", "0", 4), 0, [2, 2], [1, 2])
    small._metadata = collections.OrderedDict()
    write("zip", "checkpoint", torch_zip(torch_pickle(small),
                                         {"0": struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)}))
    write("zip", "checkpoint_long", torch_zip(
        torch_pickle({"ids": Tensor(Storage("LongStorage", "7", 3), 1, [2], [1])}),
        {"7": struct.pack("<3q", 5, -6, 7)}))
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(zipfile.ZipInfo("a.txt", date_time=(1980, 1, 1, 0, 0, 0)), "hello")
        archive.writestr(zipfile.ZipInfo("dir/b.bin", date_time=(1980, 1, 1, 0, 0, 0)), b"\0" * 9)
    write("zip", "plain", plain.getvalue())


def main():
    text_seeds()
    dataset_seeds()
    config_seeds()
    safetensors_seeds()
    checkpoint_seeds()
    for target in sorted(CORPUS.iterdir()):
        print(f"{target.name}: {len(list(target.iterdir()))} seeds")


if __name__ == "__main__":
    main()
