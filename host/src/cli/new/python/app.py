"""The `{{name}}` step type: counts the words in a text. Change it to do what
your step should; `cairn plugins inspect` shows what it declares."""

import cairn_sdk as cairn


class {{type}}(cairn.Step):
    name = "{{name}}"
    version = "0.1.0"
    description = "Counts the words in a text."
    # The host checks every call's config and input against these schemas
    # before the step runs.
    config_schema = {
        "type": "object",
        "properties": {"min_length": {"type": "integer", "minimum": 1}},
        "additionalProperties": False,
    }
    input_schema = {
        "type": "object",
        "required": ["text"],
        "properties": {"text": {"type": "string"}},
    }
    output_schema = {
        "type": "object",
        "required": ["words"],
        "properties": {"words": {"type": "integer"}},
    }

    def run(self, ctx, config, input):
        ctx.progress(10, "counting words")
        text = input["text"]
        if len(text) > 1_000_000:
            # cairn.Error.retryable(...) is for failures that may pass later.
            raise cairn.Error.fatal("the text is over 1 MB")
        min_length = config.get("min_length", 1)
        words = sum(1 for word in text.split() if len(word) >= min_length)
        ctx.info(f"{words} words")
        return {"words": words}


# What componentize-py exports as the plugin's `cairn:step/step`.
Step = cairn.export({{type}})
