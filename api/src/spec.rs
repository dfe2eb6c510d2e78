//! What the API knows of each method besides its Rust signature: the role
//! it needs, its summary, the errors it answers, how its params are
//! checked, and the schemas of its params and result. The middleware
//! ([`crate::gate`]) and the OpenRPC document ([`crate::openrpc`]) read
//! the same [`Method`] values, and the server's tests check that every
//! registered method has one.

use jsonrpsee::types::ErrorObjectOwned;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use switchyard_relayer::Role;

use crate::error::ErrorDoc;
use crate::params::{field_names, normalize};

/// Checks a call's raw params and rewrites them in the one shape the
/// generated server decodes.
pub type Normalize = fn(Option<&str>) -> Result<Box<RawValue>, ErrorObjectOwned>;

/// A schema of `T`, registering its named parts in the generator.
type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// A method or subscription of the API.
#[derive(Clone, Copy, Debug)]
pub struct Method {
    /// Its name on the wire.
    pub name: &'static str,
    /// One line for the OpenRPC document.
    pub summary: &'static str,
    /// The least role that may call it; `None`: anyone, even without a key.
    pub role: Option<Role>,
    /// The errors it may answer.
    pub errors: &'static [ErrorDoc],
    /// For a subscription: the notification's method name.
    pub notification: Option<&'static str>,
    /// For a subscription: the method that ends it (it takes the
    /// subscription id and needs no key of its own).
    pub unsubscribe: Option<&'static str>,
    /// Whether the method writes to the store (an fsync): the server runs
    /// it, and the middleware its checks, off the async workers.
    pub blocking: bool,
    /// Name of the result in the OpenRPC document.
    pub result_name: &'static str,
    pub(crate) normalize: Option<Normalize>,
    pub(crate) param_names: fn() -> &'static [&'static str],
    pub(crate) params: Option<SchemaFn>,
    pub(crate) result: SchemaFn,
    pub(crate) item: Option<SchemaFn>,
}

fn no_names() -> &'static [&'static str] {
    &[]
}

impl Method {
    /// A method taking params `P` (one object, by name or by position) and
    /// answering `R`.
    pub fn call<P, R>(
        name: &'static str,
        role: Option<Role>,
        summary: &'static str,
        errors: &'static [ErrorDoc],
        result_name: &'static str,
    ) -> Self
    where
        P: DeserializeOwned + JsonSchema,
        R: JsonSchema,
    {
        Self::bare::<R>(name, role, summary, errors, result_name).taking::<P>()
    }

    /// A method without params answering `R` (any params are ignored).
    pub fn bare<R: JsonSchema>(
        name: &'static str,
        role: Option<Role>,
        summary: &'static str,
        errors: &'static [ErrorDoc],
        result_name: &'static str,
    ) -> Self {
        Self {
            name,
            summary,
            role,
            errors,
            notification: None,
            unsubscribe: None,
            blocking: false,
            result_name,
            normalize: None,
            param_names: no_names,
            params: None,
            result: schema_of::<R>,
            item: None,
        }
    }

    /// A subscription whose notifications (`notification`) carry `I`,
    /// ended by `unsubscribe`; the result is the subscription id. Without
    /// params (any are ignored) unless [`Method::taking`] adds them.
    pub fn subscription<I: JsonSchema>(
        name: &'static str,
        notification: &'static str,
        unsubscribe: &'static str,
        role: Option<Role>,
        summary: &'static str,
        errors: &'static [ErrorDoc],
    ) -> Self {
        Self {
            notification: Some(notification),
            unsubscribe: Some(unsubscribe),
            item: Some(schema_of::<I>),
            ..Self::bare::<String>(name, role, summary, errors, "subscription")
        }
    }

    /// The same method taking params `P` (one object, by name or by
    /// position), checked by the middleware.
    pub fn taking<P: DeserializeOwned + JsonSchema>(self) -> Self {
        Self {
            normalize: Some(normalize::<P>),
            param_names: field_names::<P>,
            params: Some(schema_of::<P>),
            ..self
        }
    }

    /// The same method, run off the async workers (it writes to the store,
    /// or reads much of it).
    pub fn writes(self) -> Self {
        Self {
            blocking: true,
            ..self
        }
    }

    /// Its params' names, in the order positional params take them.
    pub fn param_names(&self) -> &'static [&'static str] {
        (self.param_names)()
    }

    /// Checks raw params, see [`Normalize`]; `None` for a method without
    /// params.
    pub fn normalizer(&self) -> Option<Normalize> {
        self.normalize
    }
}
