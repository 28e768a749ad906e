"""Turn a service's ValidationError into the one-line message a CommandError prints."""

from django.core.exceptions import NON_FIELD_ERRORS


def one_line(error):
    if hasattr(error, "error_dict"):
        parts = []
        for field, errors in error.message_dict.items():
            text = " ".join(errors)
            parts.append(text if field == NON_FIELD_ERRORS else f"{field}: {text}")
        return "; ".join(parts)
    return " ".join(error.messages)
