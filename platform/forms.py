"""How every Django form in the project is drawn: `{{ form }}` and `{{ field.as_field_group }}` use these templates."""

from __future__ import annotations

from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    """An error summary that links to each field, radio groups in fieldsets, and help and error texts carrying the
    ids Django's widgets name in aria-describedby (`<id>_helptext`, `<id>_error`), so a screen reader reads them."""

    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"
