//! No import cycle between the files of `agent/src`.
//!
//! Reads every module of the library (following `mod` declarations from `lib.rs`, `#[path]`
//! included), builds the file → file graph from paths that name the crate's own items
//! (`crate::…`, `super::…`, `self::…`, child modules, and names brought in by `use`), and fails
//! with each cycle's files and the lines that close it. A `mod` declaration is not an import; a
//! `pub use` re-export is followed to where the item is defined (and counts as an import of the
//! re-exporting file only where that file itself uses the name).
//!
//! Run it alone: `cargo test -p voice-agent --test import_cycles`.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// A module: the file it lives in and what it declares.
#[derive(Default)]
struct Module {
    file: usize,
    /// Items defined here (structs, functions, child modules…).
    defined: BTreeSet<String>,
    /// `pub use` re-exports: name → full path (or the glob's source with `None`).
    reexports: Vec<(Option<String>, Vec<String>)>,
}

/// A path as written, in the module it was written in.
struct Use {
    module: Vec<String>,
    path: Vec<String>,
    line: usize,
    /// `true` for a `pub use`: an edge only where the re-exporting file uses the name.
    reexport: bool,
}

#[derive(Default)]
struct Crate {
    files: Vec<PathBuf>,
    modules: BTreeMap<Vec<String>, Module>,
    uses: Vec<Use>,
    /// Per module: names brought in by `use` → full path.
    aliases: HashMap<Vec<String>, HashMap<String, Vec<String>>>,
}

fn line_of(span: proc_macro2::Span) -> usize {
    span.start().line
}

/// Expands a use tree into `(alias, full path)` pairs; a glob has alias `None`.
fn flatten(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(Option<String>, Vec<String>)>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                out.push((prefix.last().cloned(), prefix.clone()));
            } else {
                let mut full = prefix.clone();
                full.push(name.clone());
                out.push((Some(name), full));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut full = prefix.clone();
            full.push(r.ident.to_string());
            out.push((Some(r.rename.to_string()), full));
        }
        syn::UseTree::Glob(_) => out.push((None, prefix.clone())),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten(t, prefix, out);
            }
        }
    }
}

struct FileVisitor<'a> {
    krate: &'a mut Crate,
    file: usize,
    dir: PathBuf,
    module: Vec<String>,
    pending_files: Vec<(PathBuf, Vec<String>)>,
}

impl FileVisitor<'_> {
    fn record_path(&mut self, segments: Vec<String>, line: usize) {
        if segments.len() >= 2 || self.is_alias(&segments[0]) {
            self.krate.uses.push(Use { module: self.module.clone(), path: segments, line, reexport: false });
        }
    }

    fn is_alias(&self, name: &str) -> bool {
        self.krate.aliases.get(&self.module).is_some_and(|a| a.contains_key(name))
    }

    fn module_mut(&mut self) -> &mut Module {
        let file = self.file;
        self.krate.modules.entry(self.module.clone()).or_insert_with(|| Module { file, ..Module::default() })
    }

    /// Paths written inside macro calls (`format!`, `tokio::select!`, …): `a::b::c` sequences.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => self.scan_tokens(g.stream()),
                TokenTree::Ident(id) => {
                    let line = line_of(id.span());
                    let mut segs = vec![id.to_string()];
                    let mut j = i + 1;
                    while j + 2 < tokens.len()
                        && matches!(&tokens[j], TokenTree::Punct(p) if p.as_char() == ':')
                        && matches!(&tokens[j + 1], TokenTree::Punct(p) if p.as_char() == ':')
                    {
                        let TokenTree::Ident(next) = &tokens[j + 2] else { break };
                        segs.push(next.to_string());
                        j += 3;
                    }
                    if segs.len() >= 2 {
                        self.record_path(segs, line);
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for FileVisitor<'_> {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut pairs = Vec::new();
        flatten(&u.tree, &mut Vec::new(), &mut pairs);
        let reexport = !matches!(u.vis, syn::Visibility::Inherited);
        let line = line_of(u.use_token.span);
        for (alias, path) in pairs {
            if reexport {
                self.module_mut().reexports.push((alias.clone(), path.clone()));
            }
            if let Some(a) = &alias {
                self.krate.aliases.entry(self.module.clone()).or_default().insert(a.clone(), path.clone());
            }
            self.krate.uses.push(Use { module: self.module.clone(), path, line, reexport });
        }
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let name = m.ident.to_string();
        self.module_mut().defined.insert(name.clone());
        let mut child = self.module.clone();
        child.push(name.clone());
        match &m.content {
            Some((_, items)) => {
                let outer = std::mem::replace(&mut self.module, child);
                self.module_mut();
                for item in items {
                    self.visit_item(item);
                }
                self.module = outer;
            }
            None => {
                let explicit = m.attrs.iter().find_map(|a| match &a.meta {
                    syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
                        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
                        _ => None,
                    },
                    _ => None,
                });
                let file = match explicit {
                    Some(p) => self.dir.join(p),
                    None if self.dir.join(format!("{name}.rs")).exists() => {
                        self.dir.join(format!("{name}.rs"))
                    }
                    None => self.dir.join(&name).join("mod.rs"),
                };
                self.pending_files.push((file, child));
            }
        }
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        let ident = match item {
            syn::Item::Struct(i) => Some(&i.ident),
            syn::Item::Enum(i) => Some(&i.ident),
            syn::Item::Fn(i) => Some(&i.sig.ident),
            syn::Item::Trait(i) => Some(&i.ident),
            syn::Item::Type(i) => Some(&i.ident),
            syn::Item::Const(i) => Some(&i.ident),
            syn::Item::Static(i) => Some(&i.ident),
            syn::Item::Union(i) => Some(&i.ident),
            syn::Item::Macro(i) => i.ident.as_ref(),
            _ => None,
        };
        if let Some(id) = ident {
            self.module_mut().defined.insert(id.to_string());
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if let Some(first) = p.segments.first() {
            self.record_path(segs, line_of(first.ident.span()));
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.scan_tokens(m.tokens.clone());
        syn::visit::visit_macro(self, m);
    }
}

impl Crate {
    fn load(src: &Path) -> Self {
        let mut krate = Crate::default();
        let mut queue = vec![(src.join("lib.rs"), Vec::new())];
        while let Some((file, module)) = queue.pop() {
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let is_root = module.is_empty() || file.file_name().is_some_and(|n| n == "mod.rs");
            let dir = if is_root { file.parent().unwrap().to_path_buf() } else { file.with_extension("") };
            // A `#[path]` is relative to the file's own directory, not to its module directory.
            let path_dir = file.parent().unwrap().to_path_buf();
            krate.files.push(file);
            let index = krate.files.len() - 1;
            let mut v = FileVisitor {
                krate: &mut krate,
                file: index,
                dir,
                module: module.clone(),
                pending_files: Vec::new(),
            };
            v.module_mut();
            for item in &ast.items {
                if let syn::Item::Mod(m) = item
                    && m.content.is_none()
                    && m.attrs.iter().any(|a| a.path().is_ident("path"))
                {
                    let saved = std::mem::replace(&mut v.dir, path_dir.clone());
                    v.visit_item(item);
                    v.dir = saved;
                } else {
                    v.visit_item(item);
                }
            }
            queue.extend(v.pending_files);
        }
        krate
    }

    /// The absolute module path a written path starts from, or `None` for other crates.
    fn absolute(&self, module: &[String], path: &[String]) -> Option<Vec<String>> {
        let (first, rest) = path.split_first()?;
        match first.as_str() {
            "crate" => Some(rest.to_vec()),
            "self" => Some([module, rest].concat()),
            "super" => {
                let mut base = module.to_vec();
                base.pop()?;
                let mut rest = rest;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
                Some([base.as_slice(), rest].concat())
            }
            _ => {
                let child = [module, std::slice::from_ref(first)].concat();
                if self.modules.contains_key(&child) {
                    return Some([module, path].concat());
                }
                let target = self.aliases.get(module)?.get(first)?;
                if target.first().is_some_and(|s| s == first) && target.len() == 1 {
                    return None; // `use tokio;` and the like
                }
                let base = self.absolute(module, target)?;
                Some([base.as_slice(), rest].concat())
            }
        }
    }

    /// The file that defines what `path` (absolute) names, following `pub use` re-exports.
    fn resolve(&self, path: &[String], depth: usize) -> Option<usize> {
        let cut = (0..=path.len()).rev().find(|&n| self.modules.contains_key(&path[..n]))?;
        let module = &self.modules[&path[..cut]];
        let Some(name) = path.get(cut) else { return Some(module.file) };
        if depth < 16 && !module.defined.contains(name) {
            let module_path = &path[..cut];
            for (alias, target) in &module.reexports {
                let Some(base) = self.absolute(module_path, target) else { continue };
                let found = match alias {
                    Some(a) if a == name => {
                        self.resolve(&[base.as_slice(), &path[cut + 1..]].concat(), depth + 1)
                    }
                    None if self.exports(&base, name) => {
                        self.resolve(&[base.as_slice(), &path[cut..]].concat(), depth + 1)
                    }
                    _ => None,
                };
                if found.is_some() {
                    return found;
                }
            }
        }
        Some(module.file)
    }

    /// Whether the module at `path` defines or re-exports `name` (what a glob would bring).
    fn exports(&self, path: &[String], name: &str) -> bool {
        self.modules.get(path).is_some_and(|m| {
            m.defined.contains(name) || m.reexports.iter().any(|(a, _)| a.as_deref() == Some(name))
        })
    }

    /// Edges `from → to` with the line of the first import that makes each.
    fn edges(&self) -> BTreeMap<(usize, usize), usize> {
        let mut edges = BTreeMap::new();
        let used_names: HashMap<(usize, String), ()> = self
            .uses
            .iter()
            .filter(|u| !u.reexport)
            .filter_map(|u| Some(((self.modules.get(&u.module)?.file, u.path.first()?.clone()), ())))
            .collect();
        for u in &self.uses {
            let Some(from) = self.modules.get(&u.module).map(|m| m.file) else { continue };
            if u.reexport {
                let name = u.path.last().cloned().unwrap_or_default();
                if !used_names.contains_key(&(from, name)) {
                    continue;
                }
            }
            let Some(abs) = self.absolute(&u.module, &u.path) else { continue };
            let Some(to) = self.resolve(&abs, 0) else { continue };
            if to != from {
                edges.entry((from, to)).or_insert(u.line);
            }
        }
        edges
    }
}

/// Strongly connected components with more than one node (Tarjan).
fn cycles(n: usize, edges: &BTreeSet<(usize, usize)>) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); n];
    for &(a, b) in edges {
        adj[a].push(b);
    }
    struct State {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(v: usize, adj: &[Vec<usize>], s: &mut State) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on[v] = true;
        for &w in &adj[v] {
            match s.index[w] {
                None => {
                    visit(w, adj, s);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(i) if s.on[w] => s.low[v] = s.low[v].min(i),
                _ => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort_unstable();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(v, &adj, &mut s);
        }
    }
    s.out
}

/// Imports between two sibling modules `(a, b)` → the file imports behind them.
type SiblingEdges = BTreeMap<(String, String), Vec<String>>;

/// The cycles among sibling modules, at every level of the module tree, each with the file
/// imports (`file:line -> file`) that make it.
///
/// An import from `a` to `b` joins the two children of their closest common module that
/// contain them; an import between a module and its own parent or child (a `mod.rs` and its
/// files) stays inside that module and joins nothing.
fn module_cycles(krate: &Crate, src: &Path) -> Vec<String> {
    let module_of: HashMap<usize, &Vec<String>> = krate
        .modules
        .iter()
        .filter(|(p, m)| krate.files[m.file].exists() || p.is_empty())
        .map(|(p, m)| (m.file, p))
        .fold(HashMap::new(), |mut acc, (f, p)| {
            // A file's module is the shortest path mapped to it (inline modules are longer).
            let e = acc.entry(f).or_insert(p);
            if p.len() < e.len() {
                *e = p;
            }
            acc
        });
    let name = |f: usize| krate.files[f].strip_prefix(src).unwrap_or(&krate.files[f]).display().to_string();
    // parent → (child a, child b) → the file imports behind it.
    let mut lifted: BTreeMap<Vec<String>, SiblingEdges> = BTreeMap::new();
    for (&(from, to), &line) in &krate.edges() {
        let (pa, pb) = (module_of[&from], module_of[&to]);
        let common = pa.iter().zip(pb.iter()).take_while(|(x, y)| x == y).count();
        if common == pa.len() || common == pb.len() {
            continue; // parent and child
        }
        lifted
            .entry(pa[..common].to_vec())
            .or_default()
            .entry((pa[common].clone(), pb[common].clone()))
            .or_default()
            .push(format!("{}:{line} -> {}", name(from), name(to)));
    }
    let mut out = Vec::new();
    for (parent, edges) in &lifted {
        let nodes: Vec<&String> =
            edges.keys().flat_map(|(a, b)| [a, b]).collect::<BTreeSet<_>>().into_iter().collect();
        let index = |n: &String| nodes.iter().position(|m| *m == n).unwrap();
        let graph: BTreeSet<(usize, usize)> = edges.keys().map(|(a, b)| (index(a), index(b))).collect();
        for comp in cycles(nodes.len(), &graph) {
            let names: Vec<&str> = comp.iter().map(|&i| nodes[i].as_str()).collect();
            let mut text = format!("crate::{} : {}\n", parent.join("::"), names.join(" <-> "));
            for ((a, b), lines) in edges {
                if comp.contains(&index(a)) && comp.contains(&index(b)) {
                    for l in lines {
                        text.push_str(&format!("    {l}\n"));
                    }
                }
            }
            out.push(text);
        }
    }
    out
}

#[test]
fn no_import_cycle_between_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let krate = Crate::load(&src);
    assert!(krate.files.len() > 50, "only {} files found under {}", krate.files.len(), src.display());
    let found = module_cycles(&krate, &src);
    assert!(
        found.is_empty(),
        "import cycles in agent/src (file:line of the import -> file it names):\n{}",
        found.join("")
    );
}

#[test]
fn the_check_sees_a_cycle_and_allows_parent_and_child() {
    // a -> b -> m (re-exported from m/inner) -> a is a cycle; m/mod.rs <-> m/inner.rs is not.
    let dir = std::env::temp_dir().join(format!("va-cycles-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("m")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod a;\npub mod b;\npub mod m;\npub mod z;\n").unwrap();
    std::fs::write(dir.join("a.rs"), "use crate::b::B;\npub struct A;\n").unwrap();
    std::fs::write(dir.join("b.rs"), "pub struct B(crate::m::C);\n").unwrap();
    std::fs::write(dir.join("m/mod.rs"), "mod inner;\npub use inner::C;\npub struct D(inner::C);\n").unwrap();
    std::fs::write(dir.join("m/inner.rs"), "pub struct C(super::super::a::A, super::D);\n").unwrap();
    std::fs::write(dir.join("z.rs"), "fn f() { let _ = format!(\"{:?}\", crate::a::A); }\n").unwrap();
    let krate = Crate::load(&dir);
    let found = module_cycles(&krate, &dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("crate:: : a <-> b <-> m\n"), "{}", found[0]);
    assert!(found[0].contains("m/inner.rs:1 -> a.rs"), "{}", found[0]);
    assert!(!found[0].contains("z.rs"), "z only uses a");
}
