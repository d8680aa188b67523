#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kdoc2man.py - man(7) pages from the kernel-doc comments of evsig.h.

Debian ships no standalone kernel-doc, so this is the small subset evsig.h
uses, run at build time so that the pages cannot drift from the header:

  /**
   * name() - summary          (or "struct name - ...", "typedef name - ...";
   * @param: description          the summary may go on until a blank line)
   *
   * Free text: paragraphs, "- " bullet lists, code indented by 4 spaces.
   *
   * Context: ...   Return: ...   Errors: EXXX: ... EYYY: ...
   */
  declaration;

Section banners (/* ----- title, prose ----- */) group the index of
evsig(3); the opening comment of the header is its DESCRIPTION. Which
function, type and macro goes on which page is the table in pages.txt
(read by meson too, for the names of the outputs). Every function, type
and EVSIG_ macro of the header must be on exactly one page: a new one that
is not makes the build fail, so no function goes without its page.

Usage: kdoc2man.py --header evsig.h --pages pages.txt --outdir DIR
                   --version 0.2.0 --date 2025-11-26 [--template evsig.3.in]
Writes DIR/<page>.3 for every page, DIR/<member>.3 (".so" links) for the
other functions and types of a page, and DIR/evsig.3 from the template.
"""
import argparse
import os
import re
import sys
import textwrap

# --- parsing the header ---------------------------------------------------


class Doc:
    """One kernel-doc comment and the declaration after it."""

    def __init__(self, kind, name, summary):
        self.kind = kind          # 'function', 'struct' or 'typedef'
        self.name = name
        self.summary = summary
        self.params = []          # [(name, text)]
        self.body = []            # free-text lines, indentation kept
        self.sections = {}        # 'Context'/'Return'/'Errors' -> text
        self.decl = ''            # the declaration, as in the header
        self.banner = None        # the Banner it sits under, if any


class Banner:
    """A section banner: a title, and prose about the whole section."""

    def __init__(self, title, prose):
        self.title = title
        self.prose = prose        # lines, indentation kept


class Macro:
    """A run of #define EVSIG_ lines, with the comment right above it."""

    def __init__(self, names, lines):
        self.names = names
        self.lines = lines


class Header:
    def __init__(self):
        self.intro = []           # the opening comment, lines
        self.docs = []
        self.banners = []
        self.macros = []

    def find(self, name):
        for d in self.docs:
            if d.name == name:
                return d
        for m in self.macros:
            if name in m.names:
                return m
        return None


SECTION_RE = re.compile(r'^(Context|Return|Errors):\s*(.*)$')
TITLE_RE = re.compile(r'^(?:(\w+)\(\)|struct (\w+)|typedef (\w+))\s+-\s+(.*)$')
DEFINE_RE = re.compile(r'^#define\s+(EVSIG_\w+)')
RULE_RE = re.compile(r'^\s*/?\*\s*-{8,}\s*(\*/)?\s*$')


def strip_star(line):
    """' * text' -> 'text', keeping the indentation after '* '."""
    m = re.match(r'^\s*\*(?: |$)(.*)$', line)
    return m.group(1).rstrip() if m else line.strip()


def parse_doc(lines):
    """lines: the comment's text, '/**' and '*/' excluded, stars stripped."""
    m = TITLE_RE.match(lines[0])
    if not m:
        raise ValueError('not a kernel-doc title: %r' % lines[0])
    name = m.group(1) or m.group(2) or m.group(3)
    kind = 'function' if m.group(1) else 'struct' if m.group(2) else 'typedef'
    doc = Doc(kind, name, m.group(4).strip())
    i = 1
    while i < len(lines) and lines[i] and not lines[i].startswith('@'):
        doc.summary += ' ' + lines[i].strip()        # a summary on two lines
        i += 1
    while i < len(lines) and lines[i].startswith('@'):
        pm = re.match(r'^@(\w+):\s*(.*)$', lines[i])
        if not pm:
            raise ValueError('%s: bad parameter line %r' % (name, lines[i]))
        text = [pm.group(2)]
        i += 1
        while i < len(lines) and lines[i].startswith(' ') and lines[i].strip():
            text.append(lines[i].strip())
            i += 1
        doc.params.append((pm.group(1), ' '.join(text)))
    section = None
    for line in lines[i:]:
        sm = SECTION_RE.match(line)
        if sm:
            section = sm.group(1)
            doc.sections[section] = sm.group(2)
        elif section and line.strip():
            doc.sections[section] += '\n' + line.strip()
        elif section:
            section = None
        else:
            doc.body.append(line)
    while doc.body and not doc.body[0].strip():
        doc.body.pop(0)
    while doc.body and not doc.body[-1].strip():
        doc.body.pop()
    return doc


def parse_header(text):
    hdr = Header()
    lines = text.split('\n')
    banner = None
    comment = None            # the last plain comment, if right above
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith('/**'):
            j = i + 1
            body = []
            while not lines[j].strip().startswith('*/'):
                body.append(strip_star(lines[j]))
                j += 1
            doc = parse_doc(body)
            j += 1
            decl = []
            depth = 0
            while j < len(lines):
                decl.append(lines[j])
                depth += lines[j].count('{') - lines[j].count('}')
                if depth == 0 and lines[j].rstrip().endswith(';'):
                    break
                j += 1
            doc.decl = '\n'.join(decl)
            doc.banner = banner
            hdr.docs.append(doc)
            i = j + 1
            comment = None
        elif line.startswith('/*') and i + 1 < len(lines) and \
                RULE_RE.match(line):
            j = i + 1
            body = []
            while not RULE_RE.match(lines[j]):
                body.append(strip_star(lines[j]))
                j += 1
            title = []
            while body and body[0].strip():
                title.append(body.pop(0).strip())
            banner = Banner(' '.join(title), body)
            hdr.banners.append(banner)
            i = j + 1                               # past the closing rule
            comment = None
        elif line.startswith('/*'):
            j = i
            while '*/' not in lines[j]:
                j += 1
            block = lines[i:j + 1]
            if not hdr.intro and not hdr.docs and len(block) > 2 and \
                    'SPDX' not in line:
                hdr.intro = [strip_star(s) for s in block[1:-1]]
            comment = block
            i = j + 1
        elif DEFINE_RE.match(line):
            run = list(comment or [])
            names = []
            while i < len(lines) and DEFINE_RE.match(lines[i]):
                names.append(DEFINE_RE.match(lines[i]).group(1))
                run.append(lines[i])
                i += 1
            if names != ['EVSIG_H']:               # the include guard
                hdr.macros.append(Macro(names, run))
            comment = None
        else:
            comment = None
            i += 1
    return hdr


# --- the table of pages ----------------------------------------------------


class Page:
    def __init__(self, name, summary, members, section):
        self.name = name
        self.summary = summary
        self.members = [name] + members
        self.section = section    # its heading in the index of evsig(3)


def parse_pages(text):
    """'page | summary | members...' lines; a line ': Title' starts a
    section of evsig(3)'s index; '#' starts a comment."""
    pages = []
    section = None
    for line in text.split('\n'):
        line = line.split('#', 1)[0].strip()
        if line.startswith(':'):
            section = line[1:].strip()
            continue
        if not line:
            continue
        fields = [f.strip() for f in line.split('|')]
        if len(fields) != 3:
            raise ValueError('pages: want "page | summary | members": %r'
                             % line)
        pages.append(Page(fields[0], fields[1], fields[2].split(), section))
    return pages


def check_coverage(hdr, pages):
    """Every name on exactly one page, every member in the header."""
    errors = []
    where = {}
    for p in pages:
        for name in p.members:
            if name in where:
                errors.append('%s is on %s(3) and %s(3)'
                              % (name, where[name], p.name))
            where[name] = p.name
            if p.name != 'evsig' or name != 'evsig':
                if hdr.find(name) is None:
                    errors.append('%s(3) lists %s, which evsig.h does not '
                                  'document' % (p.name, name))
    for d in hdr.docs:
        if d.name not in where:
            errors.append('%s is on no page: add it to pages.txt' % d.name)
    for m in hdr.macros:             # a run of #defines goes together
        if not any(n in where for n in m.names):
            errors.append('%s is on no page: add it to pages.txt'
                          % m.names[0])
    return errors


def link_names(page):
    """The members that get a '.so' page: functions and types."""
    return [n for n in page.members[1:] if n == n.lower()]


# --- roff ---------------------------------------------------------------------

INLINE_RE = re.compile(
    r'(?P<param>@\w+(?:->\w+)*)'
    r'|(?P<ref>\b[A-Za-z_][\w.-]*\([1-8]\))'
    r'|(?P<func>\b[A-Za-z_][\w.]*\(\))'
    r'|(?P<code>`[^`\n]+`)'
    r'|(?P<dash> --(?=\s|$))')


def escape(text):
    """Plain text to roff: backslashes, minus signs, quotes, non-ASCII."""
    text = text.replace('\\', '\\e')
    # A minus sign or an option, not a hyphen: "-1", "SIGRTMAX-2", "-Dx".
    text = re.sub(r'-(?=\d)|(?<![\w-])-(?=[\w-])', r'\\-', text)
    text = text.replace('"', '\\(dq')
    return ''.join(c if ord(c) < 128 else '\\[u%04X]' % ord(c) for c in text)


def escape_code(line):
    line = line.replace('\\', '\\e').replace('-', '\\-')
    line = ''.join(c if ord(c) < 128 else '\\[u%04X]' % ord(c) for c in line)
    return protect(line)


def protect(line):
    """A text line may not start with a control character ('.' or "'")."""
    return '\\&' + line if line[:1] in ('.', "'") else line


class Refs:
    """What a page's text refers to, for SEE ALSO."""

    def __init__(self):
        self.funcs = []
        self.pages = []

    def add(self, lst, item):
        if item not in lst:
            lst.append(item)


def inline(text, refs=None):
    """Free text (one or more lines) to roff text lines."""
    # The opening comment's sections are evsig(3)'s now.
    text = re.sub(r'("[A-Z][\w ]*") above', r'\1 in evsig(3)', text)
    text = re.sub(r'\s*\(DESIGN §[\d.]+\)|DESIGN §[\d.]+;\s*', '', text)
    text = re.sub(r'\bXXX: ', 'Known gap: ', text)   # a code comment's mark
    out = []
    pos = 0
    for m in INLINE_RE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        tok = m.group(0)
        if m.group('param'):
            out.append('\\fI%s\\fP' % escape(tok[1:]).replace('-', '\\-'))
        elif m.group('ref'):
            name, sect = tok[:-3], tok[-2]
            out.append('\\fB%s\\fP(%s)' % (escape(name), sect))
            if refs is not None:
                refs.add(refs.pages, (name, sect))
        elif m.group('func'):
            out.append('\\fB%s\\fP()' % escape(tok[:-2]))
            if refs is not None:
                refs.add(refs.funcs, tok[:-2])
        elif m.group('code'):
            out.append('\\fB%s\\fP' % escape_code(tok[1:-1]))
        else:
            out.append(' \\(em')
        pos = m.end()
    out.append(escape(text[pos:]))
    return [protect(s.strip()) for s in ''.join(out).split('\n') if s.strip()]


def indent_of(line):
    return len(line) - len(line.lstrip(' '))


def paragraphs(lines):
    """Split free-text lines at blank lines."""
    para = []
    for line in lines:
        if line.strip():
            para.append(line)
        elif para:
            yield para
            para = []
    if para:
        yield para


def render_text(lines, refs):
    """Paragraphs, '- ' bullet lists and indented code to roff."""
    out = []
    for para in paragraphs(lines):
        if all(indent_of(s) >= 4 for s in para):
            cut = min(indent_of(s) for s in para)
            out += ['.PP', '.EX'] + [escape_code(s[cut:]) for s in para] + \
                ['.EE']
        elif para[0].startswith('- '):
            items = []
            for s in para:
                if s.startswith('- '):
                    items.append([s[2:]])
                else:
                    items[-1].append(s.strip())
            for item in items:
                out += ['.IP \\(bu 2'] + inline('\n'.join(item), refs)
        else:
            out += ['.PP'] + inline('\n'.join(s.strip() for s in para), refs)
    return out


def render_errors(text, refs):
    """'EINVAL: ... ENOMEM: ...' to a tagged list; other text as is."""
    # "EINVAL:", "EMFILE/ENFILE:", "EINVAL (before anything is made):",
    # and a label for the errors that follow ("The system's:").
    tag = r"(E[A-Z0-9]{2,}(?:/E[A-Z0-9]{2,})*(?: \([^)]*\))?|The \w+'s):\s+"
    # An error starts a line, or a sentence: split there.
    parts = re.split(r'(?:^|(?<=\n)|(?<=\. ))' + tag, text)
    out = []
    if parts[0].strip():
        out += ['.PP'] + inline(parts[0], refs)
    for k in range(1, len(parts), 2):
        out += ['.TP', '.B ' + escape(parts[k])] + inline(parts[k + 1], refs)
    return out


def synopsis_decl(doc):
    """A prototype with its name in bold and its parameters in italics."""
    text = '\n'.join(escape_code(s) for s in doc.decl.split('\n'))
    text = re.sub(r'\b%s\(' % doc.name, r'\\fB%s\\fP(' % doc.name, text,
                  count=1)
    for pname, _ in doc.params:
        text = re.sub(r'(?<=[\s*])%s(?=[,)\[])' % pname,
                      r'\\fI%s\\fP' % pname, text)
    return text.split('\n')


def heading(doc):
    if doc.kind == 'function':
        return doc.name + '()'
    return ('struct ' if doc.kind == 'struct' else '') + doc.name


def sentence(text):
    if not re.match(r'^[a-z]\w*\(|^\w*_', text):    # not "fork()", "si_code"
        text = text[0].upper() + text[1:]
    return text if text.endswith('.') else text + '.'


def th(name, section, args):
    return '.TH %s %s %s "evsig %s" "evsig Manual"' % (
        name.upper(), section, args.date, args.version)


def render_page(page, hdr, pages, args):
    """The roff of one generated page."""
    # In header order, which is the order of DESIGN.md.
    docs = [d for d in hdr.docs if d.name in page.members]
    funcs = [d for d in docs if d.kind == 'function']
    types = [d for d in docs if d.kind != 'function']
    macros = [m for m in hdr.macros if any(n in page.members for n in m.names)]
    group = len(funcs) > 1
    # NAME: the page's own function first (whatis shows it), then the rest.
    names = [page.name] + [f.name for f in funcs if f.name != page.name]
    refs = Refs()
    out = [
        '.\\" Generated by doc/kdoc2man.py from include/evsig.h: edit those.',
        th(page.name, 3, args),
        '.SH NAME',
        '%s \\- %s' % (', '.join(names),
                       escape(page.summary or funcs[0].summary)),
        '.SH LIBRARY',
        'evsig (\\fIlibevsig\\fP, \\fI\\-levsig \\-lev\\fP)',
        '.SH SYNOPSIS', '.nf', '.B #include <evsig.h>']
    for m in macros:
        out += ['.PP'] + [escape_code(s) for s in m.lines]
    for t in types:
        out += ['.PP'] + [escape_code(s) for s in t.decl.split('\n')]
    out.append('.PP')
    for f in funcs:
        out += synopsis_decl(f)
    out += ['.fi', '.SH DESCRIPTION']
    for f in funcs:
        if group:
            out += ['.SS ' + heading(f), '.PP'] + \
                inline(sentence(f.summary), refs)
        for pname, ptext in f.params:
            out += ['.TP', '.I ' + pname] + inline(ptext, refs)
        out += render_text(f.body, refs)
    for t in types:
        out += ['.SS ' + heading(t), '.PP'] + \
            inline(sentence(t.summary), refs)
        for pname, ptext in t.params:
            out += ['.TP', '.I ' + pname] + inline(ptext, refs)
        out += render_text(t.body, refs)
    for title, key in (('CONTEXT', 'Context'), ('RETURN VALUE', 'Return')):
        have = [f for f in funcs if key in f.sections]
        if have:
            out.append('.SH ' + title)
        for f in have:
            if group:
                out += ['.TP', '.BR %s ()' % f.name]
            else:
                out.append('.PP')
            out += inline(f.sections[key], refs)
    have = [f for f in funcs if 'Errors' in f.sections]
    if have:
        out.append('.SH ERRORS')
    for f in have:
        if group:
            out.append('.SS ' + heading(f))
        out += render_errors(f.sections['Errors'], refs)
    out += render_see_also(page, pages, refs)
    return '\n'.join(tidy(out)) + '\n'


def tidy(lines):
    """Drop the paragraph macros that a heading or another one makes
    redundant (mandoc -Tlint warns about them)."""
    out = []
    verbatim = False
    for line in lines:
        if line == '.PP' and out and out[-1].split(' ')[0] in \
                ('.SH', '.SS', '.PP'):
            continue
        if line in ('.nf', '.EX', '.fi', '.EE'):
            verbatim = line in ('.nf', '.EX')
        if verbatim or line.startswith('.') or len(line) <= 80:
            out.append(line)
        else:    # filled text: lines of 80 bytes at most, as mandoc likes
            out += [protect(s) for s in textwrap.wrap(
                line, 79, break_long_words=False, break_on_hyphens=False)]
    return out


def render_see_also(page, pages, refs):
    owner = {n: p.name for p in pages for n in p.members}
    seen = ['evsig']
    for name in refs.funcs:
        if name in owner and owner[name] not in seen + [page.name]:
            seen.append(owner[name])
    items = ['\\fB%s\\fP(3)' % escape(n) for n in seen]
    items += ['\\fB%s\\fP(%s)' % (escape(n), s) for n, s in refs.pages
              if n not in seen]
    return ['.SH SEE ALSO', ',\n'.join(items)]


def render_link(page):
    return '.so man3/%s.3\n' % page.name


def render_intro(hdr):
    """The header's opening comment, for evsig(3): its first line is the
    NAME; a paragraph that starts "Title." or "Title:" is a subsection."""
    out = []
    lines = hdr.intro[1:]
    title_re = re.compile(r'^([A-Z][\w]*(?: [\w]+){0,3})'
                          r'(?: \(DESIGN [^)]*\))?[.:](?:\s+|$)')
    for para in paragraphs(lines):
        m = title_re.match(para[0])
        if m and m.group(1) != 'XXX':
            out.append('.SS ' + m.group(1))
            para = [para[0][m.end():]] + para[1:]
            if not para[0].strip():
                para = para[1:]
        out += render_text(para, None)
    return out


def render_index(hdr, pages):
    """Every function and type, page by page, with the page's name."""
    out = []
    section = None
    for page in pages:
        if page.name == 'evsig':
            continue
        if page.section != section:
            section = page.section
            out.append('.SS ' + escape(section))
        for d in hdr.docs:
            if d.name not in page.members:
                continue
            tag = '\\fB%s\\fP(3)' % d.name
            if page.name != d.name:
                tag += ', on \\fB%s\\fP(3)' % page.name
            out += ['.TP', tag] + inline(sentence(d.summary))
    return out


def render_banner(hdr, title):
    """The prose of the header section whose title starts with title."""
    for b in hdr.banners:
        if re.sub(r'^[\d.]+\s+', '', b.title).startswith(title):
            return render_text(b.prose, None)
    raise ValueError('evsig.h has no section %r' % title)


def render_template(text, hdr, pages, args):
    """evsig.3.in: @VERSION@, @DATE@, and the lines @INTRO@, @INDEX@ and
    @BANNER title@ (the prose of a section of the header)."""
    out = []
    for line in text.split('\n'):
        if line.strip() == '@INTRO@':
            out += render_intro(hdr)
        elif line.strip() == '@INDEX@':
            out += render_index(hdr, pages)
        elif re.match(r'^@BANNER .*@$', line.strip()):
            out += render_banner(hdr, line.strip()[8:-1])
        else:
            out.append(line.replace('@VERSION@', args.version)
                       .replace('@DATE@', args.date))
    return '\n'.join(tidy(out))


def write(path, text):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--header', required=True)
    ap.add_argument('--pages', required=True)
    ap.add_argument('--outdir', required=True)
    ap.add_argument('--version', required=True)
    ap.add_argument('--date', required=True)
    ap.add_argument('--template', help='evsig.3.in')
    args = ap.parse_args(argv)
    with open(args.header, encoding='utf-8') as f:
        hdr = parse_header(f.read())
    with open(args.pages, encoding='utf-8') as f:
        pages = parse_pages(f.read())
    errors = check_coverage(hdr, pages)
    if errors:
        for e in errors:
            print('kdoc2man: ' + e, file=sys.stderr)
        return 1
    os.makedirs(args.outdir, exist_ok=True)
    for page in pages:
        if page.name == 'evsig':
            if args.template:
                with open(args.template, encoding='utf-8') as f:
                    text = render_template(f.read(), hdr, pages, args)
                write(os.path.join(args.outdir, 'evsig.3'), text)
            continue
        write(os.path.join(args.outdir, page.name + '.3'),
              render_page(page, hdr, pages, args))
        for name in link_names(page):
            write(os.path.join(args.outdir, name + '.3'), render_link(page))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
