locals {
  # Durable Object migrations are applied once per tag: Cloudflare refuses an upload whose migration
  # does not start at the script's current tag. So only the entries of edge/wrangler.toml's
  # [[migrations]] after `migrate_durable_objects_from` are sent, as one multi-step migration, and none
  # at all when it is null (every apply after the first).
  migration_tags = [for m in local.manifest.migrations : m.tag]
  migrate_from   = var.migrate_durable_objects_from
  # Index of the first entry to send: none when null, all when "", those after the tag otherwise. An
  # unknown tag selects none here and fails the precondition on cloudflare_workers_script.edge
  # (main.tf), which lists the tags. (One slice, not a conditional: the entries' object types differ.)
  migrate_start = (
    local.migrate_from == null ? length(local.migration_tags) :
    local.migrate_from == "" ? 0 :
    try(index(local.migration_tags, local.migrate_from) + 1, length(local.migration_tags))
  )
  pending_migrations = slice(local.manifest.migrations, local.migrate_start, length(local.migration_tags))
  migrations = length(local.pending_migrations) == 0 ? null : {
    old_tag = local.migrate_from == "" ? null : local.migrate_from
    new_tag = local.pending_migrations[length(local.pending_migrations) - 1].tag
    steps = [
      for m in local.pending_migrations : {
        new_classes        = try(m.new_classes, null)
        new_sqlite_classes = try(m.new_sqlite_classes, null)
        deleted_classes    = try(m.deleted_classes, null)
        renamed_classes    = try(m.renamed_classes, null)
      }
    ]
  }
}
