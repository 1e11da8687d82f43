//! What a store's DynamoDB table looks like: what creates it, and what a
//! frontend tells the user when it is missing.

/// A global secondary index of a store table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gsi {
    /// Index name (`gsi-user`, ...).
    pub name: &'static str,
    /// Partition key attribute (a string).
    pub partition: &'static str,
    /// Sort key attribute (a string), usually `created_at`.
    pub sort: Option<&'static str>,
}

impl Gsi {
    /// An index on `partition` sorted by `created_at`.
    pub const fn by_created(name: &'static str, partition: &'static str) -> Self {
        Self {
            name,
            partition,
            sort: Some("created_at"),
        }
    }
}

/// The layout of one store's DynamoDB table: partition key
/// [`PARTITION_KEY`](Self::PARTITION_KEY) (a string), TTL on
/// [`TTL_ATTRIBUTE`](Self::TTL_ATTRIBUTE), on-demand billing, and its
/// global secondary indexes, each projecting every attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableLayout {
    /// What the table holds, for messages (`session`, `access request`,
    /// `break-glass event`).
    pub record: &'static str,
    /// Its global secondary indexes.
    pub indexes: &'static [Gsi],
}

impl TableLayout {
    /// The partition key of every store table.
    pub const PARTITION_KEY: &'static str = "id";
    /// The TTL attribute of every store table (epoch seconds).
    pub const TTL_ATTRIBUTE: &'static str = "ttl";

    /// The attributes to define, all strings: the partition key and the
    /// keys of every index, each once, in that order.
    pub fn key_attributes(&self) -> Vec<&'static str> {
        let mut attrs = vec![Self::PARTITION_KEY];
        for g in self.indexes {
            for a in std::iter::once(g.partition).chain(g.sort) {
                if !attrs.contains(&a) {
                    attrs.push(a);
                }
            }
        }
        attrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_attributes_are_listed_once() {
        const LAYOUT: TableLayout = TableLayout {
            record: "thing",
            indexes: &[Gsi::by_created("a", "owner"), Gsi::by_created("b", "id")],
        };
        assert_eq!(LAYOUT.key_attributes(), ["id", "owner", "created_at"]);
    }
}
