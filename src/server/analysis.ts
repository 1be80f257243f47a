/**
 * One parse per document version: the tree, the apps in it and their validation, shared by
 * diagnostics, completion, hover, code actions, lenses and hints. Edits are applied to the
 * previous tree so tree-sitter re-parses only what changed.
 */
import { Edit, type Parser, type Tree } from 'web-tree-sitter';
import { TextDocument, type TextDocumentContentChangeEvent } from 'vscode-languageserver-textdocument';
import { type CheckedFile, checkTree, type LineEdit } from '../pyparse';

export interface Analysis extends CheckedFile {
  document: TextDocument;
  tree: Tree;
}

export function analyse(document: TextDocument, tree: Tree, previous?: { checked: CheckedFile; edit: LineEdit }): Analysis {
  return { document, tree, ...checkTree(tree, previous) };
}

/** The end point of `text` inserted at `start`, in rows and UTF-16 columns. */
function endOfInsertion(start: { row: number; column: number }, text: string) {
  const lines = text.split(/\r\n|\r|\n/);
  return lines.length === 1
    ? { row: start.row, column: start.column + text.length }
    : { row: start.row + lines.length - 1, column: lines[lines.length - 1]!.length };
}

export class AnalysisCache {
  private readonly entries = new Map<string, Analysis>();

  constructor(private readonly parser: Parser) {}

  get(uri: string): Analysis | undefined {
    return this.entries.get(uri);
  }

  open(uri: string, languageId: string, version: number, text: string): Analysis {
    const document = TextDocument.create(uri, languageId, version, text);
    return this.store(document, this.parse(text));
  }

  /** Applies LSP content changes in order, editing the old tree alongside the text. */
  change(uri: string, version: number, changes: TextDocumentContentChangeEvent[]): Analysis | undefined {
    const previous = this.entries.get(uri);
    if (!previous) return undefined;
    let document = previous.document;
    let tree: Tree | undefined = previous.tree;
    for (const change of changes) {
      if (!('range' in change)) {
        tree?.delete();
        tree = undefined;
      } else if (tree) {
        const startIndex = document.offsetAt(change.range.start);
        const oldEndIndex = document.offsetAt(change.range.end);
        const startPosition = { row: change.range.start.line, column: change.range.start.character };
        tree.edit(new Edit({
          startIndex,
          oldEndIndex,
          newEndIndex: startIndex + change.text.length,
          startPosition,
          oldEndPosition: { row: change.range.end.line, column: change.range.end.character },
          newEndPosition: endOfInsertion(startPosition, change.text),
        }));
      }
      document = TextDocument.update(document, [change], version);
    }
    const next = this.parse(document.getText(), tree);
    tree?.delete();
    // One edit (what typing makes) lets untouched apps be reused; anything else reads afresh.
    const [only] = changes;
    const edit = changes.length === 1 && only && 'range' in only ? {
      startLine: only.range.start.line,
      oldEndLine: only.range.end.line,
      newEndLine: only.range.start.line + (only.text.match(/\r\n|\r|\n/g)?.length ?? 0),
    } : undefined;
    return this.store(document, next, edit && { checked: previous, edit });
  }

  close(uri: string): void {
    this.entries.get(uri)?.tree.delete();
    this.entries.delete(uri);
  }

  private parse(text: string, previous?: Tree): Tree {
    const tree = this.parser.parse(text, previous);
    // parse() returns null only when cancelled or given no language; neither happens here.
    if (!tree) throw new Error('tree-sitter returned no tree');
    return tree;
  }

  private store(document: TextDocument, tree: Tree, previous?: { checked: CheckedFile; edit: LineEdit }): Analysis {
    const analysis = analyse(document, tree, previous);
    this.entries.set(document.uri, analysis);
    return analysis;
  }
}
