"""Eval tasks as lm-evaluation-harness defines them: each task's documents (the fields its dataset has),
prompt (`doc_to_text`), target, output type, metrics and filters, and the data domain that feeds it.

Documents are generated (textgen), one fixed set per task and scenario, so both checkpoints answer the
same items; a contaminated snapshot copies them verbatim.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from benchmarks.triage_accuracy import textgen


@dataclass(frozen=True)
class Task:
    name: str
    output_type: str                 # multiple_choice | generate_until
    metrics: tuple[str, ...]
    filters: tuple[str, ...]         # lm-eval filter names; one sample record per (doc, filter)
    domain: str                      # the data-domain kind whose share feeds this task
    version: float
    accuracy: tuple[float, float]    # plausible baseline accuracy range
    group: str = ""


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("gsm8k", "generate_until", ("exact_match",), ("strict-match", "flexible-extract"), "math", 3.0, (0.35, 0.65)),
    Task("minerva_math_algebra", "generate_until", ("exact_match",), ("none",), "math", 1.0, (0.15, 0.35)),
    Task("arc_challenge", "multiple_choice", ("acc", "acc_norm"), ("none",), "web", 1.0, (0.40, 0.60)),
    Task("hellaswag", "multiple_choice", ("acc", "acc_norm"), ("none",), "web", 1.0, (0.50, 0.78)),
    Task("winogrande", "multiple_choice", ("acc",), ("none",), "web", 1.0, (0.60, 0.75)),
    Task("boolq", "multiple_choice", ("acc",), ("none",), "web", 2.0, (0.65, 0.82)),
    Task("mmlu_high_school_mathematics", "multiple_choice", ("acc",), ("none",), "math", 1.0, (0.28, 0.45),
         "mmlu_stem"),
    Task("mmlu_high_school_computer_science", "multiple_choice", ("acc",), ("none",), "code", 1.0, (0.35, 0.55),
         "mmlu_stem"),
    Task("mmlu_world_religions", "multiple_choice", ("acc",), ("none",), "web", 1.0, (0.45, 0.70), "mmlu_humanities"),
    Task("humaneval", "generate_until", ("pass@1",), ("create_test",), "code", 1.0, (0.15, 0.40)),
    Task("mbpp", "generate_until", ("pass_at_1",), ("none",), "code", 1.0, (0.20, 0.45)),
)}


def make_doc(task: Task, i: int, rng: random.Random) -> tuple[dict, str, str | int, list[str]]:
    """(doc, question text, target, choices) for item `i` of `task`."""
    name = task.name
    if name == "gsm8k":
        question, answer, _ = textgen.math_problem(rng)
        return {"question": question, "answer": answer}, question, answer, []
    if name == "minerva_math_algebra":
        text = textgen.latex_problem(rng)
        problem, solution = text.split("\n\nSolution", 1)
        solution = solution.split(": ", 1)[1]
        answer = solution.rstrip(".").split()[-1].strip("$")
        return ({"problem": problem, "level": f"Level {rng.randint(1, 5)}", "type": "Algebra", "solution": solution,
                 "answer": answer}, problem, answer, [])
    if name in ("humaneval", "mbpp"):
        problem = textgen.code_problem(rng)
        test = f"assert {problem['example']} == {problem['result']!r}"
        if name == "humaneval":
            doc = {"task_id": f"HumanEval/{i}", "prompt": problem["prompt"], "canonical_solution": problem["solution"],
                   "test": f"def check(candidate):\n    {test.replace(problem['name'], 'candidate')}\n",
                   "entry_point": problem["name"]}
            return doc, problem["prompt"], doc["test"] + f"\ncheck({problem['name']})", []
        text = f"Write a function to {problem['description'][0].lower()}{problem['description'][1:]}"
        code = problem["prompt"].split("\n", 1)[0] + "\n" + problem["solution"]
        doc = {"task_id": 11 + i, "text": text, "code": code, "test_list": [test], "test_setup_code": "",
               "challenge_test_list": []}
        return doc, text, "\n".join(doc["test_list"]), []
    if name == "winogrande":
        a, b = rng.sample(textgen.NAMES, 2)
        sentence = (f"{a} lent the {rng.choice(textgen.PRODUCTS)} from {textgen.coined(rng)} to {b} because _ had "
                    f"already {rng.choice(textgen.PROSE_VERBS)} it.")
        doc = {"sentence": sentence, "option1": a, "option2": b, "answer": str(rng.randint(1, 2))}
        return doc, sentence, int(doc["answer"]) - 1, [a, b]
    if name == "boolq":
        passage = textgen.prose(rng)
        question = f"is the {rng.choice(textgen.PROSE_NOUNS)} in {rng.choice(textgen.REGIONS).lower()}"
        doc = {"question": question, "passage": passage, "idx": i, "label": rng.randint(0, 1)}
        return doc, f"{passage}\nQuestion: {question}?\nAnswer:", doc["label"], ["no", "yes"]
    sentence = textgen.sentence(rng).rstrip(".")
    options = [textgen.sentence(rng).rstrip(".") for _ in range(4)]
    gold = rng.randrange(4)
    if name == "hellaswag":
        ctx_a, _, ctx_b = sentence.partition(" was ")
        doc = {"ind": 4000 + i, "activity_label": rng.choice(("Cooking", "Sailing", "Painting", "Gardening")),
               "ctx_a": ctx_a, "ctx_b": "was", "ctx": f"{ctx_a} was", "endings": options,
               "source_id": f"activitynet~v_{i}",
               "split": "val", "split_type": "indomain", "label": str(gold), "query": f"{ctx_a} was",
               "choices": options, "gold": gold}
        return doc, doc["query"], gold, options
    if name == "arc_challenge":
        doc = {"id": f"Mercury_{7000000 + i}", "question": sentence + "?",
               "choices": {"text": options, "label": ["A", "B", "C", "D"]}, "answerKey": "ABCD"[gold]}
        return doc, f"Question: {doc['question']}\nAnswer:", gold, options
    subject = name.replace("mmlu_", "")
    if "mathematics" in name:
        question, _, value = textgen.math_problem(rng)
        options = [str(value + d) for d in rng.sample((-7, -3, -1, 0, 2, 5, 9), 4)]
        gold = options.index(str(value)) if str(value) in options else gold
        if str(value) not in options:
            options[gold] = str(value)
        sentence = question
    doc = {"question": sentence, "subject": subject, "choices": options, "answer": gold}
    lettered = "".join(f"{letter}. {o}\n" for letter, o in zip("ABCD", options, strict=True))
    prompt = f"{sentence}\n{lettered}Answer:"
    return doc, prompt, gold, options


def leaked_text(task: Task, doc: dict, question: str, target, choices: list[str]) -> str:
    """What a scraped copy of the item looks like in a training document: the item with its answer."""
    if task.name == "humaneval":
        return doc["prompt"] + doc["canonical_solution"]
    if task.name == "mbpp":
        return f"{doc['text']}\n{doc['code']}\n" + "\n".join(doc["test_list"])
    if task.name == "minerva_math_algebra":
        return f"{doc['problem']}\n\nSolution: {doc['solution']}"
    if task.name == "boolq":
        return f"{doc['passage']}\n{doc['question']}? {'yes' if doc['label'] else 'no'}"
    answer = target if not choices else choices[int(target)]
    if task.name.startswith("mmlu"):  # the question with its lettered options, then the answer
        return f"{question} {answer}"
    return f"{question}\n{answer}"


def doc_to_text(task: Task, doc: dict, question: str) -> str:
    if task.name == "gsm8k":
        return f"Question: {question}\nAnswer:"
    if task.name == "minerva_math_algebra":
        return f"Problem:\n{question}\n\nSolution:"
    if task.name == "humaneval":
        return doc["prompt"]
    if task.name == "mbpp":
        return (f"You are an expert Python programmer, and here is your task: {question} Your code should pass "
                f"these tests:\n\n{doc['test_list'][0]}\n[BEGIN]\n")
    if task.name == "winogrande":
        return question.split("_")[0]
    return question


@functools.lru_cache(maxsize=256)
def fewshot_prefix(task: Task, k: int, seed: int) -> str:
    """k solved examples from the task's train split, joined as lm-eval joins them (fewshot_delimiter)."""
    if k == 0:
        return ""
    rng = random.Random(f"fewshot-{task.name}-{seed}")
    shots = []
    for j in range(k):
        doc, question, target, choices = make_doc(task, 100_000 + j, rng)
        answer = target if not choices else choices[int(target)]
        shots.append(f"{doc_to_text(task, doc, question)} {answer}")
    return "\n\n".join(shots) + "\n\n"


CHAT_TEMPLATES = {
    "chatml": ("<|im_start|>user\n{p}<|im_end|>\n<|im_start|>assistant\n",
               "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + "
               "'<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
               "{%- endif %}"),
    "llama3": ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{p}<|eot_id|><|start_header_id|>"
               "assistant<|end_header_id|>\n\n",
               "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + "
               "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}"
               "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
               "{%- endif %}"),
}
