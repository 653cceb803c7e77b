"""The knowledge graph: entities and relations extracted from a corpus, kept in
one SQLite file (store.Graph), searchable by name (FTS5) and by meaning
(embed.Embedder), walkable (neighbours, paths) and exportable (export).

Nothing here imports Textual; torch and transformers are imported only by
embed.Embedder and the builder, never by the store itself.
"""
