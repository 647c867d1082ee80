//! The SAM template as data: parameters (defaults and overrides), conditions, resources, and the intrinsic
//! functions their properties use (`Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join`, `Fn::If`, `Fn::Select`,
//! `Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`), in short form (YAML tags) and long form alike.
//!
//! Resolution turns a property into JSON with every reference replaced by what [`Names`] says the resource is
//! called on the emulator, so rule patterns, environment variables and definition substitutions are the
//! template's own.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};
use yaml_serde::Value as Yaml;

/// The region and account the emulator answers as (pseudo parameters `AWS::Region`, `AWS::AccountId`).
pub use testkit::{ACCOUNT_ID, REGION};

/// A template that cannot be read or resolved; the message names the resource, parameter or function.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    /// The file could not be read or is not YAML.
    #[error("cannot read the template {path}: {reason}")]
    Read {
        /// Where it was looked for.
        path: String,
        /// The I/O or YAML error.
        reason: String,
    },
    /// A parameter without a default was not given a value.
    #[error("parameter {0} has no default: give it a value (e.g. {0}=...)")]
    MissingParameter(String),
    /// An override names a parameter the template does not declare.
    #[error("the template has no parameter {0}")]
    UnknownParameter(String),
    /// A value the parameter's declaration refuses.
    #[error("parameter {name} cannot be {value:?}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: String,
        value: String,
        /// Which constraint it breaks.
        reason: String,
    },
    /// A `Ref` or `${}` to something neither a parameter nor a resource the local loop knows.
    #[error("cannot resolve {0}: not a parameter, a pseudo parameter or a provisioned resource")]
    Unresolved(String),
    /// A condition name that is not declared.
    #[error("unknown condition {0}")]
    UnknownCondition(String),
    /// An intrinsic function used in a shape the resolver does not read.
    #[error("cannot evaluate {function}: {reason}")]
    Unsupported {
        /// The function, e.g. `Fn::Sub`.
        function: String,
        /// What was wrong with its arguments.
        reason: String,
    },
}

/// What resources are called on the emulator: their `Ref` value and their attributes (`Arn`, `QueueName`…).
pub trait Names {
    /// The value of `Ref` to a resource, if it is known.
    fn reference(&self, logical_id: &str) -> Option<Json>;
    /// The value of `Fn::GetAtt` of a resource, if it is known.
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<Json>;
}

/// One resource of the template.
#[derive(Debug, Clone)]
pub struct Resource {
    pub logical_id: String,
    /// Its CloudFormation type, e.g. `AWS::Events::Rule`.
    pub kind: String,
    /// Its properties, unresolved.
    pub properties: Yaml,
    /// Its `Condition`, if any.
    pub condition: Option<String>,
}

/// How deep conditions may refer to conditions: deeper is a cycle.
const MAX_CONDITION_DEPTH: u32 = 32;

/// A loaded template with its parameter values decided.
#[derive(Debug, Clone)]
pub struct Template {
    path: PathBuf,
    root: Yaml,
    parameters: BTreeMap<String, Json>,
    overridden: Vec<(String, String)>,
    /// Conditions being evaluated, so `A: !Condition B, B: !Condition A` is an error, not a stack overflow.
    condition_depth: Cell<u32>,
}

impl Template {
    /// Reads the template at `path`; `overrides` set parameters as `sam deploy --parameter-overrides` would.
    ///
    /// # Errors
    /// An unreadable file, an unknown parameter in `overrides`, or a parameter left without a value.
    pub fn load(path: &Path, overrides: &[(String, String)]) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|e| TemplateError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, path, overrides)
    }

    /// As [`Template::load`], from text; `path` is where `DefinitionUri`s are relative to.
    ///
    /// # Errors
    /// See [`Template::load`].
    pub fn parse(
        text: &str,
        path: &Path,
        overrides: &[(String, String)],
    ) -> Result<Self, TemplateError> {
        let root: Yaml = yaml_serde::from_str(text).map_err(|e| TemplateError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let declared = root["Parameters"].as_mapping().cloned().unwrap_or_default();
        for (name, _) in overrides {
            if !declared.contains_key(name.as_str()) {
                return Err(TemplateError::UnknownParameter(name.clone()));
            }
        }
        let mut parameters = BTreeMap::new();
        for (name, declaration) in &declared {
            let Some(name) = name.as_str() else { continue };
            let given = overrides
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone());
            let text = match (given, &declaration["Default"]) {
                (Some(value), _) => value,
                (None, Yaml::Null) => return Err(TemplateError::MissingParameter(name.to_owned())),
                (None, default) => scalar_text(default),
            };
            let kind = declaration["Type"].as_str().unwrap_or("String");
            check_parameter(name, &text, declaration)?;
            let value = if kind == "CommaDelimitedList" || kind.starts_with("List<") {
                Json::Array(
                    text.split(',')
                        .map(|s| Json::String(s.trim().into()))
                        .collect(),
                )
            } else {
                Json::String(text)
            };
            parameters.insert(name.to_owned(), value);
        }
        Ok(Template {
            path: path.to_owned(),
            root,
            parameters,
            overridden: overrides.to_vec(),
            condition_depth: Cell::new(0),
        })
    }

    /// Where the template was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder relative paths in the template (`DefinitionUri`, `CodeUri`) start from.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// A parameter's value as text (lists joined with commas).
    pub fn parameter(&self, name: &str) -> Option<String> {
        self.parameters.get(name).map(|v| match v {
            Json::Array(items) => items
                .iter()
                .filter_map(Json::as_str)
                .collect::<Vec<_>>()
                .join(","),
            other => other.as_str().unwrap_or_default().to_owned(),
        })
    }

    /// The parameters set by the caller rather than by their defaults.
    pub fn overrides(&self) -> &[(String, String)] {
        &self.overridden
    }

    /// Every resource, in template order, whose `Condition` holds.
    ///
    /// # Errors
    /// A condition that cannot be evaluated.
    pub fn resources(&self) -> Result<Vec<Resource>, TemplateError> {
        let mut out = Vec::new();
        for (id, resource) in self.root["Resources"].as_mapping().into_iter().flatten() {
            let Some(id) = id.as_str() else { continue };
            let condition = resource["Condition"].as_str().map(str::to_owned);
            if let Some(name) = &condition
                && !self.condition(name)?
            {
                continue;
            }
            out.push(Resource {
                logical_id: id.to_owned(),
                kind: resource["Type"].as_str().unwrap_or_default().to_owned(),
                properties: resource["Properties"].clone(),
                condition,
            });
        }
        Ok(out)
    }

    /// The `Globals.Function` section (environment shared by every function).
    pub fn function_globals(&self) -> &Yaml {
        &self.root["Globals"]["Function"]
    }

    /// Evaluates a declared condition.
    ///
    /// # Errors
    /// An undeclared condition or an expression the resolver cannot evaluate.
    pub fn condition(&self, name: &str) -> Result<bool, TemplateError> {
        let expression = self.root["Conditions"]
            .get(name)
            .ok_or_else(|| TemplateError::UnknownCondition(name.to_owned()))?;
        let depth = self.condition_depth.get();
        if depth >= MAX_CONDITION_DEPTH {
            return Err(TemplateError::Unsupported {
                function: format!("condition {name}"),
                reason: "conditions refer to each other in a cycle".into(),
            });
        }
        self.condition_depth.set(depth + 1);
        let value = self.resolve(expression, &NoResources);
        self.condition_depth.set(depth);
        let value = value?;
        value.as_bool().ok_or_else(|| TemplateError::Unsupported {
            function: format!("condition {name}"),
            reason: format!("evaluates to {value}, not a boolean"),
        })
    }

    /// Resolves `value` into JSON. `AWS::NoValue` removes the key or item that holds it; at the top it gives
    /// `Null`.
    ///
    /// # Errors
    /// A reference [`Names`] does not know, or an intrinsic function in a shape not supported.
    pub fn resolve(&self, value: &Yaml, names: &dyn Names) -> Result<Json, TemplateError> {
        Ok(self.eval(value, names)?.unwrap_or(Json::Null))
    }

    /// `None` stands for `AWS::NoValue`.
    fn eval(&self, value: &Yaml, names: &dyn Names) -> Result<Option<Json>, TemplateError> {
        match value {
            Yaml::Null => Ok(Some(Json::Null)),
            Yaml::Bool(b) => Ok(Some(Json::Bool(*b))),
            Yaml::Number(n) => Ok(Some(
                serde_json::to_value(n).unwrap_or_else(|_| Json::String(n.to_string())),
            )),
            Yaml::String(s) => Ok(Some(Json::String(s.clone()))),
            Yaml::Sequence(items) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(v) = self.eval(item, names)? {
                        out.push(v);
                    }
                }
                Ok(Some(Json::Array(out)))
            }
            Yaml::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                let name = tag.trim_start_matches('!');
                let function = if name == "Ref" || name == "Condition" {
                    name.to_owned()
                } else {
                    format!("Fn::{name}")
                };
                self.function(&function, &tagged.value, names)
            }
            Yaml::Mapping(map) => {
                // `{Condition: Name}` is the condition function only with a name; a `Condition` map (an IAM
                // statement's) is data.
                if map.len() == 1
                    && let Some((Yaml::String(key), argument)) = map.iter().next()
                    && (key == "Ref"
                        || key.starts_with("Fn::")
                        || (key == "Condition" && argument.is_string()))
                {
                    return self.function(key, argument, names);
                }
                let mut out = Map::new();
                for (key, v) in map {
                    let key = match key {
                        Yaml::String(s) => s.clone(),
                        other => scalar_text(other),
                    };
                    if let Some(v) = self.eval(v, names)? {
                        out.insert(key, v);
                    }
                }
                Ok(Some(Json::Object(out)))
            }
        }
    }

    /// Evaluates the intrinsic function `function` (long form, e.g. `Fn::Sub`) on its `argument`.
    fn function(
        &self,
        function: &str,
        argument: &Yaml,
        names: &dyn Names,
    ) -> Result<Option<Json>, TemplateError> {
        match function {
            "Ref" => {
                let name = self.eval_text(argument, names, function)?;
                self.reference(&name, names)
            }
            "Condition" => {
                let name = self.eval_text(argument, names, function)?;
                Ok(Some(Json::Bool(self.condition(&name)?)))
            }
            "Fn::GetAtt" => self.get_att(argument, names),
            "Fn::Sub" => self.sub(argument, names),
            "Fn::Join" => self.join(argument, names),
            "Fn::Select" => self.select(argument, names),
            "Fn::If" => self.if_then_else(argument, names),
            "Fn::Equals" => self.equals(argument, names),
            "Fn::Not" | "Fn::And" | "Fn::Or" => self.logical(function, argument, names),
            other => Err(unsupported(other, "not evaluated by the local loop")),
        }
    }

    /// `Fn::GetAtt`: an attribute of a resource, as `Resource.Attribute` or `[Resource, Attribute]`.
    fn get_att(&self, argument: &Yaml, names: &dyn Names) -> Result<Option<Json>, TemplateError> {
        const GET_ATT: &str = "Fn::GetAtt";
        let (id, attribute) = match argument {
            Yaml::String(s) => s
                .split_once('.')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .ok_or_else(|| unsupported(GET_ATT, "expected Resource.Attribute"))?,
            Yaml::Sequence(items) if items.len() == 2 => (
                self.eval_text(&items[0], names, GET_ATT)?,
                self.eval_text(&items[1], names, GET_ATT)?,
            ),
            _ => return Err(unsupported(GET_ATT, "expected Resource.Attribute")),
        };
        names
            .attribute(&id, &attribute)
            .map(Some)
            .ok_or_else(|| TemplateError::Unresolved(format!("{id}.{attribute}")))
    }

    /// `Fn::Sub`: a text's placeholders substituted, with or without a map of variables of its own.
    fn sub(&self, argument: &Yaml, names: &dyn Names) -> Result<Option<Json>, TemplateError> {
        const SUB: &str = "Fn::Sub";
        let (text, variables) = match argument {
            Yaml::Sequence(items) if items.len() == 2 => {
                let mut variables = BTreeMap::new();
                for (k, v) in items[1].as_mapping().into_iter().flatten() {
                    let value = self.eval(v, names)?.unwrap_or(Json::Null);
                    variables.insert(scalar_text(k), text_of(&value));
                }
                (self.eval_text(&items[0], names, SUB)?, variables)
            }
            other => (self.eval_text(other, names, SUB)?, BTreeMap::new()),
        };
        self.substitute(&text, &variables, names)
            .map(|s| Some(Json::String(s)))
    }

    /// `Fn::Join`: a list's items as text, joined by a delimiter.
    fn join(&self, argument: &Yaml, names: &dyn Names) -> Result<Option<Json>, TemplateError> {
        const JOIN: &str = "Fn::Join";
        let items = arguments(JOIN, argument, 2, "expected [delimiter, list]")?;
        let delimiter = self.eval_text(&items[0], names, JOIN)?;
        let list = self.eval(&items[1], names)?.unwrap_or(Json::Null);
        let list = list
            .as_array()
            .ok_or_else(|| unsupported(JOIN, "the second argument is not a list"))?;
        Ok(Some(Json::String(
            list.iter()
                .map(text_of)
                .collect::<Vec<_>>()
                .join(&delimiter),
        )))
    }

    /// `Fn::Select`: one item of a list, by index.
    fn select(&self, argument: &Yaml, names: &dyn Names) -> Result<Option<Json>, TemplateError> {
        const SELECT: &str = "Fn::Select";
        let items = arguments(SELECT, argument, 2, "expected [index, list]")?;
        let index: usize = self
            .eval_text(&items[0], names, SELECT)?
            .parse()
            .map_err(|_| unsupported(SELECT, "the index is not a number"))?;
        let list = self.eval(&items[1], names)?.unwrap_or(Json::Null);
        list.get(index)
            .cloned()
            .map(Some)
            .ok_or_else(|| unsupported(SELECT, "index out of range"))
    }

    /// `Fn::If`: one of two values, as a declared condition holds.
    fn if_then_else(
        &self,
        argument: &Yaml,
        names: &dyn Names,
    ) -> Result<Option<Json>, TemplateError> {
        const IF: &str = "Fn::If";
        let items = arguments(IF, argument, 3, "expected [condition, then, else]")?;
        let condition = self.eval_text(&items[0], names, IF)?;
        let branch = if self.condition(&condition)? {
            &items[1]
        } else {
            &items[2]
        };
        self.eval(branch, names)
    }

    /// `Fn::Equals`: whether two values are the same text.
    fn equals(&self, argument: &Yaml, names: &dyn Names) -> Result<Option<Json>, TemplateError> {
        let items = arguments("Fn::Equals", argument, 2, "expected two values")?;
        let a = self.eval(&items[0], names)?.unwrap_or(Json::Null);
        let b = self.eval(&items[1], names)?.unwrap_or(Json::Null);
        Ok(Some(Json::Bool(text_of(&a) == text_of(&b))))
    }

    /// `Fn::Not` of one condition, `Fn::And` and `Fn::Or` of two to ten.
    fn logical(
        &self,
        function: &str,
        argument: &Yaml,
        names: &dyn Names,
    ) -> Result<Option<Json>, TemplateError> {
        let items = argument
            .as_sequence()
            .ok_or_else(|| unsupported(function, "expected a list of conditions"))?;
        let expected = if function == "Fn::Not" { 1..=1 } else { 2..=10 };
        if !expected.contains(&items.len()) {
            return Err(unsupported(
                function,
                &format!(
                    "takes {} to {} conditions, got {}",
                    expected.start(),
                    expected.end(),
                    items.len()
                ),
            ));
        }
        let mut values = Vec::new();
        for item in items {
            let value = self.eval(item, names)?.unwrap_or(Json::Null);
            values.push(
                value
                    .as_bool()
                    .ok_or_else(|| unsupported(function, "an argument is not a boolean"))?,
            );
        }
        Ok(Some(Json::Bool(match function {
            "Fn::Not" => !values[0],
            "Fn::And" => values.iter().all(|v| *v),
            _ => values.iter().any(|v| *v),
        })))
    }

    fn eval_text(
        &self,
        value: &Yaml,
        names: &dyn Names,
        function: &str,
    ) -> Result<String, TemplateError> {
        match self.eval(value, names)? {
            Some(Json::String(s)) => Ok(s),
            Some(Json::Number(n)) => Ok(n.to_string()),
            other => Err(TemplateError::Unsupported {
                function: function.to_owned(),
                reason: format!("expected text, got {other:?}"),
            }),
        }
    }

    fn reference(&self, name: &str, names: &dyn Names) -> Result<Option<Json>, TemplateError> {
        let pseudo = match name {
            "AWS::NoValue" => return Ok(None),
            "AWS::Region" => Some(REGION),
            "AWS::AccountId" => Some(ACCOUNT_ID),
            "AWS::Partition" => Some("aws"),
            "AWS::URLSuffix" => Some("amazonaws.com"),
            "AWS::StackName" => Some("mlops-guardrails-local"),
            "AWS::StackId" => Some(
                "arn:aws:cloudformation:us-east-1:123456789012:stack/mlops-guardrails-local/00000000-0000-0000-0000-000000000000",
            ),
            _ => None,
        };
        if let Some(value) = pseudo {
            return Ok(Some(Json::String(value.to_owned())));
        }
        if let Some(value) = self.parameters.get(name) {
            return Ok(Some(value.clone()));
        }
        names
            .reference(name)
            .map(Some)
            .ok_or_else(|| TemplateError::Unresolved(name.to_owned()))
    }

    /// `text` with each `${name}` replaced: by `variables`, a resource's attribute, a parameter or a resource;
    /// `${!name}` stays as the literal `${name}`.
    fn substitute(
        &self,
        text: &str,
        variables: &BTreeMap<String, String>,
        names: &dyn Names,
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find(PLACEHOLDER_OPEN) {
            out.push_str(&rest[..start]);
            let after = &rest[start + PLACEHOLDER_OPEN.len()..];
            let end = after.find(PLACEHOLDER_CLOSE).ok_or_else(|| {
                unsupported(
                    "Fn::Sub",
                    &format!("unclosed {PLACEHOLDER_OPEN} in {text:?}"),
                )
            })?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(PLACEHOLDER_OPEN);
                out.push_str(literal);
                out.push(PLACEHOLDER_CLOSE);
            } else {
                out.push_str(&self.placeholder(name, variables, names)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The text a `${name}` placeholder stands for.
    fn placeholder(
        &self,
        name: &str,
        variables: &BTreeMap<String, String>,
        names: &dyn Names,
    ) -> Result<String, TemplateError> {
        if let Some(value) = variables.get(name) {
            return Ok(value.clone());
        }
        if let Some((id, attribute)) = name.split_once('.')
            && !name.starts_with("AWS::")
        {
            let value = names
                .attribute(id, attribute)
                .ok_or_else(|| TemplateError::Unresolved(name.to_owned()))?;
            return Ok(text_of(&value));
        }
        let value = self.reference(name, names)?.unwrap_or(Json::Null);
        Ok(text_of(&value))
    }
}

/// How a `Fn::Sub` placeholder opens: `${name}`.
const PLACEHOLDER_OPEN: &str = "${";
/// How a `Fn::Sub` placeholder closes.
const PLACEHOLDER_CLOSE: char = '}';

/// An intrinsic function given arguments it does not take.
fn unsupported(function: &str, reason: &str) -> TemplateError {
    TemplateError::Unsupported {
        function: function.to_owned(),
        reason: reason.to_owned(),
    }
}

/// `argument` as the `count` arguments `function` takes (`expected` says which when it is not).
fn arguments<'y>(
    function: &str,
    argument: &'y Yaml,
    count: usize,
    expected: &str,
) -> Result<&'y [Yaml], TemplateError> {
    argument
        .as_sequence()
        .filter(|items| items.len() == count)
        .map(Vec::as_slice)
        .ok_or_else(|| unsupported(function, expected))
}

/// The declaration's `AllowedValues`, `Number` type and length limits (`AllowedPattern` is not checked: a
/// name it would refuse fails when the emulator creates the resource).
fn check_parameter(name: &str, value: &str, declaration: &Yaml) -> Result<(), TemplateError> {
    let invalid = |reason: String| TemplateError::InvalidParameter {
        name: name.to_owned(),
        value: value.to_owned(),
        reason,
    };
    if let Some(allowed) = declaration["AllowedValues"].as_sequence() {
        let allowed: Vec<String> = allowed.iter().map(scalar_text).collect();
        if !allowed.iter().any(|a| a == value) {
            return Err(invalid(format!("allowed: {}", allowed.join(", "))));
        }
    }
    if declaration["Type"].as_str() == Some("Number") && value.trim().parse::<f64>().is_err() {
        return Err(invalid("not a number".into()));
    }
    let length = value.chars().count();
    if let Some(max) = declaration["MaxLength"]
        .as_u64()
        .filter(|max| length as u64 > *max)
    {
        return Err(invalid(format!("longer than {max} characters")));
    }
    if let Some(min) = declaration["MinLength"]
        .as_u64()
        .filter(|min| (length as u64) < *min)
    {
        return Err(invalid(format!("shorter than {min} characters")));
    }
    Ok(())
}

/// Resolution with no resource known: conditions only use parameters.
struct NoResources;

impl Names for NoResources {
    fn reference(&self, _: &str) -> Option<Json> {
        None
    }
    fn attribute(&self, _: &str, _: &str) -> Option<Json> {
        None
    }
}

/// A resolved value as text: strings as they are, lists joined with commas, other values as JSON.
pub fn text_of(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(","),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

fn scalar_text(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => yaml_serde::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEMPLATE: &str = r#"
Parameters:
  ProjectName: { Type: String, Default: demo }
  Image: { Type: String }
  Subnets: { Type: CommaDelimitedList, Default: "" }
  Limit: { Type: Number, Default: 1000 }
  Mode: { Type: String, Default: "off", AllowedValues: ["off", "on"] }
Conditions:
  InVpc: !Not [!Equals [!Join ["", !Ref Subnets], ""]]
  Named: !Equals [!Ref ProjectName, demo]
  Loop: !Not [!Condition Pool]
  Pool: !And [!Condition Loop, !Condition Named]
  TooMany: !Not [!Condition Named, !Condition InVpc]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${ProjectName}-raw-${AWS::AccountId}"
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern:
        detail:
          bucket: { name: [!Ref Bucket] }
          alarmName: [{ prefix: !Sub "${ProjectName}-drift-" }]
      Targets:
        - { Id: q, Arn: !GetAtt Queue.Arn }
        - { Id: l, Arn: { "Fn::GetAtt": [Queue, Arn] } }
  Vpc:
    Type: AWS::EC2::VPC
    Condition: InVpc
Outputs: {}
"#;

    struct Known;
    impl Names for Known {
        fn reference(&self, id: &str) -> Option<Json> {
            (id == "Bucket").then(|| json!("demo-raw-123456789012"))
        }
        fn attribute(&self, id: &str, attribute: &str) -> Option<Json> {
            (id == "Queue" && attribute == "Arn")
                .then(|| json!("arn:aws:sqs:us-east-1:123456789012:q"))
        }
    }

    fn template(overrides: &[(&str, &str)]) -> Result<Template, TemplateError> {
        let overrides: Vec<(String, String)> = overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Template::parse(TEMPLATE, Path::new("infra/template.yaml"), &overrides)
    }

    #[test]
    fn parameters_take_defaults_and_overrides() {
        assert_eq!(
            template(&[]).unwrap_err(),
            TemplateError::MissingParameter("Image".into())
        );
        assert_eq!(
            template(&[("Image", "i"), ("Nope", "x")]).unwrap_err(),
            TemplateError::UnknownParameter("Nope".into())
        );
        assert!(matches!(
            template(&[("Image", "i"), ("Mode", "maybe")]).unwrap_err(),
            TemplateError::InvalidParameter { name, .. } if name == "Mode"
        ));
        assert!(matches!(
            template(&[("Image", "i"), ("Limit", "many")]).unwrap_err(),
            TemplateError::InvalidParameter { name, .. } if name == "Limit"
        ));
        let t = template(&[("Image", "img:1"), ("ProjectName", "p")]).unwrap();
        assert_eq!(t.parameter("Image").as_deref(), Some("img:1"));
        assert_eq!(t.parameter("ProjectName").as_deref(), Some("p"));
        assert_eq!(t.parameter("Limit").as_deref(), Some("1000"));
        assert!(!t.condition("Named").unwrap());
    }

    #[test]
    fn conditions_decide_which_resources_exist() {
        let t = template(&[("Image", "i")]).unwrap();
        let ids = |t: &Template| -> Vec<String> {
            t.resources()
                .unwrap()
                .into_iter()
                .map(|r| r.logical_id)
                .collect()
        };
        assert_eq!(ids(&t), ["Bucket", "Rule"]);
        let t = template(&[("Image", "i"), ("Subnets", "subnet-1,subnet-2")]).unwrap();
        assert_eq!(ids(&t), ["Bucket", "Rule", "Vpc"]);
        assert!(t.condition("InVpc").unwrap());
        assert_eq!(
            t.condition("Missing").unwrap_err(),
            TemplateError::UnknownCondition("Missing".into())
        );
        // A cycle and a wrong argument count are errors, not a stack overflow or a guess.
        assert!(
            matches!(t.condition("Loop").unwrap_err(), TemplateError::Unsupported { reason, .. }
            if reason.contains("cycle"))
        );
        assert!(
            matches!(t.condition("TooMany").unwrap_err(), TemplateError::Unsupported { reason, .. }
            if reason.contains("got 2"))
        );
    }

    #[test]
    fn short_and_long_forms_resolve_against_names() {
        let t = template(&[("Image", "i")]).unwrap();
        let resources = t.resources().unwrap();
        let bucket = t.resolve(&resources[0].properties, &Known).unwrap();
        assert_eq!(bucket, json!({"BucketName": "demo-raw-123456789012"}));
        let rule = t.resolve(&resources[1].properties, &Known).unwrap();
        assert_eq!(
            rule,
            json!({
                "EventPattern": {"detail": {
                    "bucket": {"name": ["demo-raw-123456789012"]},
                    "alarmName": [{"prefix": "demo-drift-"}]
                }},
                "Targets": [
                    {"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"},
                    {"Id": "l", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"}
                ]
            })
        );
    }

    #[test]
    fn an_unknown_reference_is_named() {
        let t = template(&[("Image", "i")]).unwrap();
        let value: Yaml = yaml_serde::from_str("!GetAtt Missing.Arn").unwrap();
        assert_eq!(
            t.resolve(&value, &Known).unwrap_err(),
            TemplateError::Unresolved("Missing.Arn".into())
        );
        let value: Yaml = yaml_serde::from_str("!Sub '${Missing}-x'").unwrap();
        assert_eq!(
            t.resolve(&value, &Known).unwrap_err(),
            TemplateError::Unresolved("Missing".into())
        );
    }

    #[test]
    fn sub_if_select_and_no_value() {
        let t = template(&[("Image", "i"), ("Subnets", "a,b")]).unwrap();
        let value: Yaml = yaml_serde::from_str(
            r#"
            literal: !Sub "${!Name} ${Image}"
            mapped: !Sub ["${X}/${ProjectName}", { X: !Select [1, !Ref Subnets] }]
            chosen: !If [InVpc, !Ref Subnets, !Ref AWS::NoValue]
            dropped: !If [Named, !Ref AWS::NoValue, kept]
            list: [a, !Ref AWS::NoValue, b]
            "#,
        )
        .unwrap();
        assert_eq!(
            t.resolve(&value, &Known).unwrap(),
            json!({
                "literal": "${Name} i",
                "mapped": "b/demo",
                "chosen": ["a", "b"],
                "list": ["a", "b"]
            })
        );
    }
}
