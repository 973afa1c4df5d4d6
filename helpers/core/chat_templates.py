"""Training-compatible chat templates (lessons 1, 5, 6: assistant-only loss).

TRL's ``assistant_only_loss=True`` needs ``{% generation %}…{% endgeneration %}`` around the
assistant's tokens. SmolLM2's ChatML template (``small`` and ``colab``) has none, and TRL 1.16
cannot patch it. :func:`training_template` returns a template that wraps each assistant turn's
content *and its* ``<|im_end|>`` (so the model learns to stop) and renders everything else
character for character as the model's own template does: a prompt rendered for generation is
the same string, so generation is unchanged (tested in ``tests/unit/test_chat_templates.py``).
Templates TRL knows how to patch (Llama 3, Qwen 2.5, …: the ``gpu`` profile's model) are left
to TRL.
"""
from __future__ import annotations

# The per-message expression of SmolLM2's ChatML template, and the same with the assistant's
# content and end-of-turn token marked for the loss.
_CHATML_TURN = "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
_CHATML_TURN_MARKED = (
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\n' }}"
    "{% else %}" + _CHATML_TURN + "{% endif %}"
)


def has_generation_markers(template: str | None) -> bool:
    return bool(template) and "{% generation %}" in template


def training_template(template: str) -> str | None:
    """A training-compatible version of ``template``, or None when TRL patches it itself / none is known.

    A template that already has ``{% generation %}`` markers is returned as it is.
    """
    if has_generation_markers(template):
        return template
    if _CHATML_TURN in template:
        return template.replace(_CHATML_TURN, _CHATML_TURN_MARKED)
    return None


def make_training_compatible(tokenizer):
    """Give ``tokenizer`` the training-compatible version of its chat template where we know one."""
    template = tokenizer.chat_template
    if template and (marked := training_template(template)) is not None:
        tokenizer.chat_template = marked
    return tokenizer
