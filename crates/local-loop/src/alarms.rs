//! The template's CloudWatch alarms, judged as CloudWatch judges them, on datapoints the loop collects: the
//! alarm's metric (or metric math over several), its statistic per period, the last `EvaluationPeriods` values,
//! `DatapointsToAlarm` of them breaching, and `TreatMissingData` for periods without a value. Free of AWS types:
//! the runtime feeds it what the handlers emitted, on a compressed clock where every alarm's period is one tick.
//!
//! The emulator never evaluates an alarm, so this is what lets a renamed metric or a threshold out of reach stop
//! the local story instead of blinding an alarm unnoticed.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use serde_json::Value as Json;

use crate::template::text_of;

/// An alarm property the loop cannot judge, named.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("alarm {alarm}: {reason}")]
pub struct AlarmError {
    pub alarm: String,
    pub reason: String,
}

/// A metric's identity: CloudWatch matches namespace, name and the exact set of dimensions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricId {
    pub namespace: String,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
}

impl fmt::Display for MetricId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)?;
        for (k, v) in &self.dimensions {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

/// One value of a metric, as a handler emitted it (an EMF value; a list of values is several datapoints).
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    pub metric: MetricId,
    pub value: f64,
}

/// A period's statistic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    Sum,
    Average,
    Maximum,
    Minimum,
    SampleCount,
    /// `ExtendedStatistic` `pNN`: the percentile (nearest rank).
    Percentile(f64),
}

impl Stat {
    fn parse(text: &str) -> Option<Stat> {
        Some(match text {
            "Sum" => Stat::Sum,
            "Average" => Stat::Average,
            "Maximum" => Stat::Maximum,
            "Minimum" => Stat::Minimum,
            "SampleCount" => Stat::SampleCount,
            p => match p.strip_prefix('p').map(str::parse::<f64>) {
                Some(Ok(q)) if (0.0..=100.0).contains(&q) => Stat::Percentile(q),
                _ => return None,
            },
        })
    }

    /// The statistic of `values`; `None` without any (a period with no data).
    pub fn of(self, values: &[f64]) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        Some(match self {
            Stat::Sum => values.iter().sum(),
            Stat::Average => values.iter().sum::<f64>() / n,
            Stat::Maximum => values.iter().copied().fold(f64::MIN, f64::max),
            Stat::Minimum => values.iter().copied().fold(f64::MAX, f64::min),
            Stat::SampleCount => n,
            Stat::Percentile(q) => {
                let mut sorted = values.to_vec();
                sorted.sort_by(f64::total_cmp);
                let rank = ((q / 100.0) * n).ceil().max(1.0) as usize;
                sorted[rank.min(sorted.len()) - 1]
            }
        })
    }
}

/// How a value is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    GreaterThanThreshold,
    GreaterThanOrEqualToThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    fn parse(text: &str) -> Option<Comparison> {
        Some(match text {
            "GreaterThanThreshold" => Comparison::GreaterThanThreshold,
            "GreaterThanOrEqualToThreshold" => Comparison::GreaterThanOrEqualToThreshold,
            "LessThanThreshold" => Comparison::LessThanThreshold,
            "LessThanOrEqualToThreshold" => Comparison::LessThanOrEqualToThreshold,
            _ => return None,
        })
    }

    fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThanThreshold => value > threshold,
            Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
            Comparison::LessThanThreshold => value < threshold,
            Comparison::LessThanOrEqualToThreshold => value <= threshold,
        }
    }
}

/// `TreatMissingData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// `missing` (the default): a window without data is `INSUFFICIENT_DATA`.
    Missing,
    /// `ignore`: a window without data keeps the state.
    Ignore,
    /// `breaching`: a period without data breaches.
    Breaching,
    /// `notBreaching`: a period without data does not.
    NotBreaching,
}

impl Missing {
    fn parse(text: &str) -> Option<Missing> {
        Some(match text {
            "missing" => Missing::Missing,
            "ignore" => Missing::Ignore,
            "breaching" => Missing::Breaching,
            "notBreaching" => Missing::NotBreaching,
            _ => return None,
        })
    }
}

/// An alarm's state, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Ok,
    Alarm,
    InsufficientData,
}

impl State {
    /// The name in alarm events.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Alarm => "ALARM",
            State::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

/// What an alarm watches: one metric, or metric math over several.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Metric {
        metric: MetricId,
        stat: Stat,
    },
    Math {
        /// The queries the expression names, by id.
        queries: BTreeMap<String, (MetricId, Stat)>,
        expression: Expr,
    },
    /// A Metrics Insights query (`SELECT MAX(MemoryUtilization) FROM "/aws/sagemaker/TrainingJobs"`): it reads
    /// AWS's own job metrics, which nothing on the emulator emits, so it is judged on no data (its
    /// `TreatMissingData` decides).
    Insights {
        /// The query's id.
        id: String,
        /// The query.
        query: String,
    },
}

/// One `AWS::CloudWatch::Alarm`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSpec {
    pub name: String,
    pub source: Source,
    pub comparison: Comparison,
    pub threshold: f64,
    pub evaluation_periods: usize,
    pub datapoints_to_alarm: usize,
    pub missing: Missing,
    /// The period CloudWatch would use, in seconds (one tick locally).
    pub period_seconds: u64,
    /// `AlarmActions`, `OKActions`.
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
}

impl AlarmSpec {
    /// The alarm in resolved `properties`, named `AlarmName` (or `logical_id`).
    ///
    /// # Errors
    /// [`AlarmError`]: a property missing or of a kind the loop cannot judge.
    pub fn from_properties(logical_id: &str, p: &Json) -> Result<AlarmSpec, AlarmError> {
        let name = p["AlarmName"]
            .as_str()
            .map_or_else(|| logical_id.to_owned(), str::to_owned);
        let bad = |reason: String| AlarmError {
            alarm: name.clone(),
            reason,
        };
        let text = |key: &str| p[key].as_str().map(str::to_owned);
        let number = |v: &Json| v.as_f64().or_else(|| text_of(v).trim().parse().ok());
        let comparison = text("ComparisonOperator")
            .and_then(|c| Comparison::parse(&c))
            .ok_or_else(|| bad(format!("ComparisonOperator {}", p["ComparisonOperator"])))?;
        let threshold =
            number(&p["Threshold"]).ok_or_else(|| bad(format!("Threshold {}", p["Threshold"])))?;
        let evaluation_periods = number(&p["EvaluationPeriods"])
            .filter(|n| *n >= 1.0)
            .ok_or_else(|| bad("EvaluationPeriods".into()))?
            as usize;
        let datapoints_to_alarm = match &p["DatapointsToAlarm"] {
            Json::Null => evaluation_periods,
            v => number(v)
                .filter(|n| *n >= 1.0 && *n as usize <= evaluation_periods)
                .ok_or_else(|| bad(format!("DatapointsToAlarm {v} (1 to EvaluationPeriods)")))?
                as usize,
        };
        let missing = match text("TreatMissingData") {
            None => Missing::Missing,
            Some(t) => Missing::parse(&t).ok_or_else(|| bad(format!("TreatMissingData {t}")))?,
        };
        let (source, period_seconds) = if p["Metrics"].is_array() {
            math(p).map_err(bad)?
        } else {
            let metric = metric_id(p).map_err(bad)?;
            let stat = text("Statistic")
                .or_else(|| text("ExtendedStatistic"))
                .and_then(|s| Stat::parse(&s))
                .ok_or_else(|| bad(format!("Statistic {}", p["Statistic"])))?;
            let period = number(&p["Period"]).ok_or_else(|| bad("Period".into()))?;
            (Source::Metric { metric, stat }, period as u64)
        };
        let actions = |key: &str| -> Vec<String> {
            p[key]
                .as_array()
                .into_iter()
                .flatten()
                .map(text_of)
                .collect()
        };
        Ok(AlarmSpec {
            name: name.clone(),
            source,
            comparison,
            threshold,
            evaluation_periods,
            datapoints_to_alarm,
            missing,
            period_seconds,
            alarm_actions: actions("AlarmActions"),
            ok_actions: actions("OKActions"),
            insufficient_data_actions: actions("InsufficientDataActions"),
        })
    }

    /// The metrics the alarm reads.
    pub fn metrics(&self) -> Vec<&MetricId> {
        match &self.source {
            Source::Metric { metric, .. } => vec![metric],
            Source::Math { queries, .. } => queries.values().map(|(m, _)| m).collect(),
            Source::Insights { .. } => Vec::new(),
        }
    }

    /// The alarm's value for one period of `points`; `None` when the period has no data for it.
    pub fn value(&self, points: &[Datapoint]) -> Option<f64> {
        let stat_of = |metric: &MetricId, stat: Stat| {
            let values: Vec<f64> = points
                .iter()
                .filter(|p| p.metric == *metric)
                .map(|p| p.value)
                .collect();
            stat.of(&values)
        };
        match &self.source {
            Source::Metric { metric, stat } => stat_of(metric, *stat),
            Source::Math {
                queries,
                expression,
            } => {
                let values: BTreeMap<&str, Option<f64>> = queries
                    .iter()
                    .map(|(id, (metric, stat))| (id.as_str(), stat_of(metric, *stat)))
                    .collect();
                expression.eval(&|id| values.get(id).copied().flatten())
            }
            Source::Insights { .. } => None,
        }
    }
}

/// The metric a single-metric alarm (or a query's `MetricStat.Metric`) names.
fn metric_id(p: &Json) -> Result<MetricId, String> {
    let namespace = p["Namespace"].as_str().ok_or("no Namespace")?;
    let name = p["MetricName"].as_str().ok_or("no MetricName")?;
    let dimensions = p["Dimensions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| (text_of(&d["Name"]), text_of(&d["Value"])))
        .collect();
    Ok(MetricId {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        dimensions,
    })
}

/// A metric-math alarm: its queries, and the expression of the one query that returns data.
fn math(p: &Json) -> Result<(Source, u64), String> {
    let mut queries = BTreeMap::new();
    let mut expression = None;
    let mut period = None;
    for query in p["Metrics"].as_array().into_iter().flatten() {
        let id = query["Id"]
            .as_str()
            .ok_or("a query without an Id")?
            .to_owned();
        if let Some(text) = query["Expression"].as_str() {
            if text
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("SELECT ")
            {
                let period = query["Period"].as_u64().unwrap_or(60);
                let query = text.to_owned();
                return Ok((Source::Insights { id, query }, period));
            }
            if query["ReturnData"] != Json::Bool(false) {
                expression = Some(Expr::parse(text).map_err(|e| format!("{id}: {e}"))?);
            }
            continue;
        }
        let stat = &query["MetricStat"];
        let metric = metric_id(&stat["Metric"]).map_err(|e| format!("{id}: {e}"))?;
        let kind = stat["Stat"].as_str().and_then(Stat::parse);
        let kind = kind.ok_or_else(|| format!("{id}: Stat {}", stat["Stat"]))?;
        let seconds = stat["Period"]
            .as_u64()
            .or_else(|| text_of(&stat["Period"]).trim().parse().ok());
        period = period.or(seconds);
        if query["ReturnData"] == Json::Bool(true) {
            expression = Some(Expr::Metric(id.clone()));
        }
        queries.insert(id, (metric, kind));
    }
    let expression = expression.ok_or("no query returns data")?;
    for id in expression.names() {
        if !queries.contains_key(&id) {
            return Err(format!("the expression names {id}, which no query defines"));
        }
    }
    Ok((
        Source::Math {
            queries,
            expression,
        },
        period.unwrap_or(60),
    ))
}

/// Metric math, the scalar part CloudWatch alarms use: numbers, query ids, `+ - * /`, comparisons (1 or 0) and
/// `IF(condition, then, else)`, evaluated per period. Written here because the one general-purpose crate for it
/// (`evalexpr`) has integer arithmetic and lower-case functions, where CloudWatch divides as floats; a missing
/// operand or a division by zero gives no value, as CloudWatch drops such datapoints.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Metric(String),
    Negate(Box<Expr>),
    Binary(Box<Expr>, Op, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Expr {
    /// Parses `text`.
    ///
    /// # Errors
    /// What was expected where, or a function other than `IF`.
    pub fn parse(text: &str) -> Result<Expr, String> {
        let tokens = tokens(text)?;
        let mut parser = Parser { tokens, at: 0 };
        let expr = parser.comparison()?;
        match parser.tokens.get(parser.at) {
            None => Ok(expr),
            Some(t) => Err(format!("unexpected {t:?} in {text:?}")),
        }
    }

    /// The query ids it names.
    pub fn names(&self) -> Vec<String> {
        match self {
            Expr::Number(_) => Vec::new(),
            Expr::Metric(id) => vec![id.clone()],
            Expr::Negate(e) => e.names(),
            Expr::Binary(a, _, b) => [a.names(), b.names()].concat(),
            Expr::If(c, a, b) => [c.names(), a.names(), b.names()].concat(),
        }
    }

    /// Its value with `value` of each query id.
    pub fn eval(&self, value: &dyn Fn(&str) -> Option<f64>) -> Option<f64> {
        let truth = |b: bool| if b { 1.0 } else { 0.0 };
        match self {
            Expr::Number(n) => Some(*n),
            Expr::Metric(id) => value(id),
            Expr::Negate(e) => e.eval(value).map(|v| -v),
            Expr::If(c, a, b) => {
                if c.eval(value)? != 0.0 {
                    a.eval(value)
                } else {
                    b.eval(value)
                }
            }
            Expr::Binary(a, op, b) => {
                let (x, y) = (a.eval(value)?, b.eval(value)?);
                Some(match op {
                    Op::Add => x + y,
                    Op::Sub => x - y,
                    Op::Mul => x * y,
                    Op::Div if y == 0.0 => return None,
                    Op::Div => x / y,
                    Op::Gt => truth(x > y),
                    Op::Ge => truth(x >= y),
                    Op::Lt => truth(x < y),
                    Op::Le => truth(x <= y),
                    Op::Eq => truth(x == y),
                    Op::Ne => truth(x != y),
                })
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Name(String),
    Symbol(&'static str),
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    const SYMBOLS: [&str; 13] = [
        ">=", "<=", "==", "!=", ">", "<", "+", "-", "*", "/", "(", ")", ",",
    ];
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if let Some(symbol) = SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
            out.push(Token::Symbol(symbol));
            rest = &rest[symbol.len()..];
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(rest.len());
            if end == 0 {
                return Err(format!("unexpected {:?} in {text:?}", &rest[..1]));
            }
            let word = &rest[..end];
            out.push(match word.parse::<f64>() {
                Ok(n) if word.starts_with(|c: char| c.is_ascii_digit()) => Token::Number(n),
                _ => Token::Name(word.to_owned()),
            });
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    Ok(out)
}

/// Recursive descent: comparison < sum < product < unary < atom.
struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn symbol(&mut self, options: &[&'static str]) -> Option<&'static str> {
        match self.peek() {
            Some(Token::Symbol(s)) if options.contains(s) => {
                let s = *s;
                self.at += 1;
                Some(s)
            }
            _ => None,
        }
    }

    fn expect(&mut self, symbol: &'static str) -> Result<(), String> {
        self.symbol(&[symbol])
            .map(|_| ())
            .ok_or_else(|| format!("expected {symbol:?}, found {:?}", self.peek()))
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.sum()?;
        let op = match self.symbol(&[">=", "<=", "==", "!=", ">", "<"]) {
            Some(">=") => Op::Ge,
            Some("<=") => Op::Le,
            Some("==") => Op::Eq,
            Some("!=") => Op::Ne,
            Some(">") => Op::Gt,
            Some(_) => Op::Lt,
            None => return Ok(left),
        };
        Ok(Expr::Binary(Box::new(left), op, Box::new(self.sum()?)))
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        while let Some(s) = self.symbol(&["+", "-"]) {
            let op = if s == "+" { Op::Add } else { Op::Sub };
            left = Expr::Binary(Box::new(left), op, Box::new(self.product()?));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while let Some(s) = self.symbol(&["*", "/"]) {
            let op = if s == "*" { Op::Mul } else { Op::Div };
            left = Expr::Binary(Box::new(left), op, Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.symbol(&["-"]).is_some() {
            return Ok(Expr::Negate(Box::new(self.unary()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let token = self.peek().cloned();
        self.at += 1;
        match token {
            Some(Token::Number(n)) => Ok(Expr::Number(n)),
            Some(Token::Symbol("(")) => {
                let inner = self.comparison()?;
                self.expect(")")?;
                Ok(inner)
            }
            Some(Token::Name(name)) if self.symbol(&["("]).is_some() => {
                if name != "IF" {
                    return Err(format!(
                        "the function {name} is not judged locally (only IF)"
                    ));
                }
                let condition = self.comparison()?;
                self.expect(",")?;
                let then = self.comparison()?;
                self.expect(",")?;
                let otherwise = self.comparison()?;
                self.expect(")")?;
                Ok(Expr::If(
                    Box::new(condition),
                    Box::new(then),
                    Box::new(otherwise),
                ))
            }
            Some(Token::Name(name)) => Ok(Expr::Metric(name)),
            other => Err(format!("expected a value, found {other:?}")),
        }
    }
}

impl AlarmSpec {
    /// The `configuration.metrics` of its state-change events, as CloudWatch writes them (drift-handler reads
    /// the metric to classify the alarm).
    pub fn event_metrics(&self) -> Json {
        let stat_json = |id: &str, metric: &MetricId, stat: Stat| {
            let stat = match stat {
                Stat::Sum => "Sum".to_owned(),
                Stat::Average => "Average".to_owned(),
                Stat::Maximum => "Maximum".to_owned(),
                Stat::Minimum => "Minimum".to_owned(),
                Stat::SampleCount => "SampleCount".to_owned(),
                Stat::Percentile(q) => format!("p{q}"),
            };
            serde_json::json!({"id": id, "metricStat": {"metric": {"namespace": metric.namespace,
                "name": metric.name, "dimensions": metric.dimensions}, "period": self.period_seconds,
                "stat": stat}, "returnData": false})
        };
        match &self.source {
            Source::Metric { metric, stat } => {
                let mut m = stat_json("m1", metric, *stat);
                m["returnData"] = Json::Bool(true);
                serde_json::json!([m])
            }
            Source::Math {
                queries,
                expression,
            } => {
                let mut all: Vec<Json> = queries
                    .iter()
                    .map(|(id, (metric, stat))| stat_json(id, metric, *stat))
                    .collect();
                all.push(
                    serde_json::json!({"id": "e1", "expression": expression.to_string(),
                    "returnData": true}),
                );
                Json::Array(all)
            }
            Source::Insights { id, query } => serde_json::json!([{"id": id, "expression": query,
                "period": self.period_seconds, "returnData": true}]),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(n) => write!(f, "{n}"),
            Expr::Metric(id) => write!(f, "{id}"),
            Expr::Negate(e) => write!(f, "-({e})"),
            Expr::If(c, a, b) => write!(f, "IF({c}, {a}, {b})"),
            Expr::Binary(a, op, b) => {
                let op = match op {
                    Op::Add => "+",
                    Op::Sub => "-",
                    Op::Mul => "*",
                    Op::Div => "/",
                    Op::Gt => ">",
                    Op::Ge => ">=",
                    Op::Lt => "<",
                    Op::Le => "<=",
                    Op::Eq => "==",
                    Op::Ne => "!=",
                };
                write!(f, "({a} {op} {b})")
            }
        }
    }
}

/// A state change, as CloudWatch reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub from: State,
    pub to: State,
    /// CloudWatch's kind of reason, with the values judged.
    pub reason: String,
    /// The reason the alarm was in `from` (CloudWatch's event carries both states' reasons).
    pub previous_reason: String,
    /// The values of the window, oldest first (`None`: no data in that period).
    pub window: Vec<Option<f64>>,
}

/// One alarm being judged, period after period.
#[derive(Debug, Clone)]
pub struct Judged {
    pub spec: AlarmSpec,
    pub state: State,
    /// Why it is in its state.
    reason: String,
    window: VecDeque<Option<f64>>,
}

impl Judged {
    /// A new alarm: `INSUFFICIENT_DATA`, as CloudWatch creates it.
    pub fn new(spec: AlarmSpec) -> Judged {
        Judged {
            spec,
            state: State::InsufficientData,
            reason: "Unchecked: Initial alarm creation".to_owned(),
            window: VecDeque::new(),
        }
    }

    /// Closes one period whose datapoints are `points`; the state change it makes, if any.
    pub fn close_period(&mut self, points: &[Datapoint]) -> Option<Transition> {
        let spec = &self.spec;
        self.window.push_back(spec.value(points));
        while self.window.len() > spec.evaluation_periods {
            self.window.pop_front();
        }
        let next = self.judge();
        if next == self.state {
            return None;
        }
        let window: Vec<Option<f64>> = self.window.iter().copied().collect();
        let shown: Vec<String> = window
            .iter()
            .map(|v| v.map_or_else(|| "no data".to_owned(), |v| format!("{v}")))
            .collect();
        let reason = format!(
            "Threshold Crossed: {} datapoint(s) [{}] judged against {:?} {} ({} of {} to alarm, missing data {:?}).",
            window.len(),
            shown.join(", "),
            spec.comparison,
            spec.threshold,
            spec.datapoints_to_alarm,
            spec.evaluation_periods,
            spec.missing
        );
        let transition = Transition {
            from: self.state,
            to: next,
            previous_reason: std::mem::replace(&mut self.reason, reason.clone()),
            reason,
            window,
        };
        self.state = next;
        Some(transition)
    }

    /// The state the window calls for.
    fn judge(&self) -> State {
        let spec = &self.spec;
        let mut breaching = 0;
        let mut judged = 0;
        for value in &self.window {
            let breaches = match (value, spec.missing) {
                (Some(v), _) => spec.comparison.breaches(*v, spec.threshold),
                (None, Missing::Breaching) => true,
                (None, Missing::NotBreaching) => false,
                (None, Missing::Missing | Missing::Ignore) => continue,
            };
            judged += 1;
            breaching += usize::from(breaches);
        }
        if breaching >= spec.datapoints_to_alarm {
            State::Alarm
        } else if judged > 0 {
            State::Ok
        } else if spec.missing == Missing::Ignore {
            self.state
        } else {
            State::InsufficientData
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metric(name: &str, dimensions: &[(&str, &str)]) -> MetricId {
        MetricId {
            namespace: "MlopsGuardrails".into(),
            name: name.into(),
            dimensions: dimensions
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn point(name: &str, dimensions: &[(&str, &str)], value: f64) -> Datapoint {
        Datapoint {
            metric: metric(name, dimensions),
            value,
        }
    }

    #[test]
    fn metric_math_as_the_template_writes_it() {
        let values = |q: f64, p: Option<f64>| {
            move |id: &str| match id {
                "quarantined" => Some(q),
                "processed" => p,
                _ => None,
            }
        };
        let rate = Expr::parse("IF(processed > 0, 100 * quarantined / processed, 0)").unwrap();
        let table: [(f64, Option<f64>, Option<f64>); 4] = [
            (1.0, Some(4.0), Some(25.0)),
            (0.0, Some(4.0), Some(0.0)),
            (0.0, Some(0.0), Some(0.0)),
            (1.0, None, None),
        ];
        for (q, p, expected) in table {
            assert_eq!(rate.eval(&values(q, p)), expected, "{q} of {p:?}");
        }
        let sum = Expr::parse("failed + timedout + aborted").unwrap();
        assert_eq!(sum.names(), ["failed", "timedout", "aborted"]);
        let all = |id: &str| Some(if id == "failed" { 1.0 } else { 0.0 });
        assert_eq!(sum.eval(&all), Some(1.0));
        let precedence = Expr::parse("-2 + 3 * (4 - 1) / 2 >= 2.5").unwrap();
        assert_eq!(precedence.eval(&|_| None), Some(1.0), "-2 + 4.5 = 2.5");
        for (text, why) in [
            ("FILL(m, 0)", "only IF"),
            ("a +", "expected a value"),
            ("(a", "expected \")\""),
            ("a b", "unexpected"),
            ("a % b", "unexpected \"%\""),
        ] {
            let error = Expr::parse(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    fn alarm(extra: Json) -> AlarmSpec {
        let mut p = json!({
            "AlarmName": "a", "Namespace": "MlopsGuardrails", "MetricName": "M",
            "Dimensions": [{"Name": "Model", "Value": "tickets"}], "Statistic": "Maximum", "Period": 3600,
            "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": ["arn:topic"]
        });
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        AlarmSpec::from_properties("A", &p).unwrap()
    }

    /// The states after each period of `values` (one datapoint of `M{Model=tickets}` each, or none).
    fn states(spec: AlarmSpec, values: &[Option<f64>]) -> Vec<&'static str> {
        let mut judged = Judged::new(spec);
        values
            .iter()
            .map(|v| {
                let points: Vec<Datapoint> = v
                    .iter()
                    .map(|v| point("M", &[("Model", "tickets")], *v))
                    .collect();
                judged.close_period(&points);
                judged.state.as_str()
            })
            .collect()
    }

    #[test]
    fn a_metrics_insights_alarm_sees_no_data_and_its_missing_data_rule_judges_it() {
        let query = r#"SELECT MAX(MemoryUtilization) FROM "/aws/sagemaker/TrainingJobs""#;
        let spec = alarm(
            json!({"Metrics": [{"Id": "memory", "Expression": query, "Period": 300,
            "ReturnData": true}], "TreatMissingData": "notBreaching", "Threshold": 90}),
        );
        assert_eq!(
            (&spec.source, spec.period_seconds),
            (
                &Source::Insights {
                    id: "memory".into(),
                    query: query.into()
                },
                300
            )
        );
        assert!(spec.metrics().is_empty());
        // Whatever the handlers emit, the query reads nothing: missing data, not breaching.
        assert_eq!(states(spec, &[Some(95.0), None]), ["OK", "OK"]);
    }

    #[test]
    fn periods_are_judged_as_cloudwatch_judges_them() {
        let (o, a, i) = ("OK", "ALARM", "INSUFFICIENT_DATA");
        type Row<'a> = (Json, Vec<Option<f64>>, Vec<&'a str>);
        let table: [Row; 6] = [
            // One period, missing data is missing.
            (
                json!({}),
                vec![None, Some(0.0), Some(1.0), None],
                vec![i, o, a, i],
            ),
            // ignore: a quiet period leaves the verdict where it was.
            (
                json!({"TreatMissingData": "ignore"}),
                vec![None, Some(1.0), None, Some(0.0), None],
                vec![i, a, a, o, o],
            ),
            (
                json!({"TreatMissingData": "notBreaching"}),
                vec![None, Some(1.0), None],
                vec![o, a, o],
            ),
            (
                json!({"TreatMissingData": "breaching"}),
                vec![None, Some(0.0)],
                vec![a, o],
            ),
            // 2 of 3 periods.
            (
                json!({"EvaluationPeriods": 3, "DatapointsToAlarm": 2}),
                vec![
                    Some(1.0),
                    Some(0.0),
                    Some(1.0),
                    Some(1.0),
                    Some(0.0),
                    Some(0.0),
                ],
                vec![o, o, a, a, a, o],
            ),
            (
                json!({"ComparisonOperator": "LessThanThreshold", "Threshold": 0.5}),
                vec![Some(0.7), Some(0.4)],
                vec![o, a],
            ),
        ];
        for (extra, values, expected) in table {
            assert_eq!(
                states(alarm(extra.clone()), &values),
                expected,
                "{extra} {values:?}"
            );
        }
    }

    #[test]
    fn statistics_of_a_period() {
        let values = [4.0, 1.0, 3.0, 2.0];
        let table = [
            (Stat::Sum, 10.0),
            (Stat::Average, 2.5),
            (Stat::Maximum, 4.0),
            (Stat::Minimum, 1.0),
            (Stat::SampleCount, 4.0),
            (Stat::Percentile(50.0), 2.0),
            (Stat::Percentile(95.0), 4.0),
            (Stat::Percentile(0.0), 1.0),
        ];
        for (stat, expected) in table {
            assert_eq!(stat.of(&values), Some(expected), "{stat:?}");
        }
        assert_eq!(
            Stat::Sum.of(&[]),
            None,
            "a period without data has no value"
        );
        assert_eq!(Stat::parse("p99.9"), Some(Stat::Percentile(99.9)));
        assert_eq!(Stat::parse("p101"), None);
        assert_eq!(Stat::parse("tm90"), None);
    }

    #[test]
    fn only_the_metric_with_the_same_namespace_name_and_dimensions_counts() {
        let spec = alarm(json!({"Statistic": "Sum", "Threshold": 2}));
        let points = [
            point("M", &[("Model", "tickets")], 1.0),
            point("M", &[("Model", "tickets")], 1.0),
            point("M", &[("Model", "other")], 5.0),
            point("M", &[("Model", "tickets"), ("Check", "scripts")], 5.0),
            point("N", &[("Model", "tickets")], 5.0),
        ];
        assert_eq!(spec.value(&points), Some(2.0));
        let mut judged = Judged::new(spec);
        let transition = judged.close_period(&points).unwrap();
        assert_eq!(
            (transition.from, transition.to),
            (State::InsufficientData, State::Alarm)
        );
        assert!(transition.reason.contains("[2]"), "{}", transition.reason);
        assert_eq!(judged.spec.alarm_actions, ["arn:topic"]);
    }

    #[test]
    fn what_the_loop_cannot_judge_is_named() {
        let p = json!({"AlarmName": "x", "Namespace": "N", "MetricName": "M", "Statistic": "tm99",
            "Period": 60, "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold"});
        let error = AlarmSpec::from_properties("X", &p).unwrap_err();
        assert_eq!(error.alarm, "x");
        assert!(error.reason.contains("Statistic"), "{error}");
        let mut p = p;
        p["Statistic"] = json!("Sum");
        p["DatapointsToAlarm"] = json!(2);
        let error = AlarmSpec::from_properties("X", &p).unwrap_err().to_string();
        assert!(error.contains("DatapointsToAlarm"), "{error}");
        p["DatapointsToAlarm"] = json!(1);
        p["ComparisonOperator"] = json!("LessThanLowerOrGreaterThanUpperThreshold");
        let error = AlarmSpec::from_properties("X", &p).unwrap_err().to_string();
        assert!(error.contains("ComparisonOperator"), "{error}");
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;
    use crate::template::{Names, Template};
    use serde_json::json;

    /// Every resource named by its logical id, so alarms resolve without a stack.
    struct Placeholders;
    impl Names for Placeholders {
        fn reference(&self, id: &str) -> Option<Json> {
            Some(json!(id))
        }
        fn attribute(&self, id: &str, attribute: &str) -> Option<Json> {
            Some(json!(format!("{id}.{attribute}")))
        }
    }

    #[test]
    fn every_alarm_of_the_template_is_judged_locally() {
        for serving in ["batch", "realtime"] {
            let mut overrides: Vec<(String, String)> = crate::LOCAL_DEFAULTS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            overrides.push(("Serving".into(), serving.into()));
            let template = Template::load(&crate::default_template(), &overrides).unwrap();
            let alarms: Vec<AlarmSpec> = template
                .resources()
                .unwrap()
                .into_iter()
                .filter(|r| r.kind == "AWS::CloudWatch::Alarm")
                .map(|r| {
                    let p = template.resolve(&r.properties, &Placeholders).unwrap();
                    AlarmSpec::from_properties(&r.logical_id, &p)
                        .unwrap_or_else(|e| panic!("{serving}: {e}"))
                })
                .collect();
            assert!(alarms.len() >= 30, "{serving}: {}", alarms.len());
            let quarantine = alarms
                .iter()
                .find(|a| a.name.ends_with("-quarantine-rate"))
                .unwrap();
            assert!(
                matches!(&quarantine.source, Source::Math { queries, .. } if queries.len() == 2)
            );
            // Alarms reach people through the notifier; only its own errors alarm publishes itself.
            assert!(quarantine.alarm_actions.is_empty());
            let fallback = alarms
                .iter()
                .find(|a| a.name.ends_with("-notifier-errors"))
                .unwrap();
            assert_eq!(fallback.alarm_actions, ["NoticeTopic"]);
            // The drift rule takes every alarm named with the drift prefix: only the monitor's verdicts may be,
            // or drift-handler would be sent, say, its own failures.
            let prefix = template.parameter("DriftAlarmPrefix").unwrap();
            let drift: Vec<&AlarmSpec> = alarms
                .iter()
                .filter(|a| a.name.starts_with(&prefix))
                .collect();
            assert!(drift.len() >= 9, "{serving}: {}", drift.len());
            for alarm in drift {
                let namespace = match &alarm.source {
                    Source::Metric { metric, .. } => &metric.namespace,
                    Source::Math { .. } | Source::Insights { .. } => {
                        panic!("{}: a drift alarm on metric math", alarm.name)
                    }
                };
                assert_eq!(namespace, "MlopsGuardrails", "{serving}: {}", alarm.name);
            }
        }
    }
}
