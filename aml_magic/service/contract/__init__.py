"""The contract of every JSON object that crosses a boundary: REST requests and answers, and
``aml ... -o json``. ``models`` declares each shape once (``TypedDict``s, cheap to import);
``typed_json`` turns them into one JSON Schema (``api.schema.json``, committed; the Lab's
TypeScript types are generated from it) and checks request bodies against them.

Regenerate the schema with ``python -m aml_magic.service.contract`` (``--check``: exit 1 when
the committed file differs from what the models say)."""
