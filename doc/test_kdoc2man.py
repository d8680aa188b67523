#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tests of kdoc2man.py on a small header that uses every construct of
evsig.h: a group page and a page of its own, types, macros, a banner, the
three sections, bullets, code, and the characters roff treats specially.
Run by meson test (test 'kdoc2man', suite doc), or by hand."""
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kdoc2man  # noqa: E402

SAMPLE = r'''/* SPDX-License-Identifier: MIT */
/*
 * demo.h - the sample.
 *
 * Opening text with `code` in it.
 *
 * Ownership (DESIGN §3.1). Who owns what.
 *
 * XXX: a gap.
 */
#define EVSIG_H

/* ------------------------------------------------------------------------
 * 3.1 Things: demo_get() and demo_set()
 *
 * Prose about every thing.
 * ------------------------------------------------------------------------ */

/* Flags of demo_set(). */
#define EVSIG_A 0x1   /* the A flag */
#define EVSIG_B 0x2

/**
 * struct demo_thing - a thing
 * @x: its x.
 *
 * Caller-allocated.
 */
typedef struct demo_thing {
    int x;
} demo_thing;

/**
 * demo_set() - set a thing, a long summary that goes on
 *              onto a second line
 * @thing: the thing; see @thing->x.
 * @flags: 0, EVSIG_A or EVSIG_B.
 *
 * Sets it -- at once -- as "Ownership" above says, like demo_get() and
 * signal(7); -1 means none, SIGRTMAX-2 too, back\slash, "quoted", §.
 * .leading dot and
 * 'leading quote.
 *
 * - first item,
 *   going on;
 * - second item.
 *
 * An example:
 *
 *     demo_set(&t, -1);   // minus
 *     if (x) {
 *         y();
 *     }
 *
 * Context: any thread.
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: bad @flags. ENOMEM: out of memory;
 *          EMFILE/ENFILE: no fd left.
 *          EBUSY (while busy): later. The system's: E2BIG, ...
 */
int demo_set(demo_thing *thing, int flags);

/**
 * demo_get() - get a thing
 * @out: receives it.
 *
 * Return: 0.
 */
int demo_get(demo_thing *out);

/**
 * demo_alone() - a page of its own
 *
 * Plain.
 *
 * Errors: as demo_get(); EINVAL also for nothing;
 *         ETIMEDOUT: too late.
 */
int demo_alone(void);
'''

PAGES = '''# comment
evsig | |
: Things
demo_set | set or get a thing | demo_get demo_thing EVSIG_A
: Alone
demo_alone | |
'''

TEMPLATE = '''.TH EVSIG 3 @DATE@ "evsig @VERSION@"
.SH DESCRIPTION
@INTRO@
.SH MODEL
@BANNER Things@
.SH FUNCTIONS
@INDEX@
'''


class Args:
    version = '9.9'
    date = '2000-01-02'


def lines_of(text):
    return text.split('\n')


class ParseTest(unittest.TestCase):
    def setUp(self):
        self.hdr = kdoc2man.parse_header(SAMPLE)

    def test_finds_every_comment_and_declaration(self):
        self.assertEqual([d.name for d in self.hdr.docs],
                         ['demo_thing', 'demo_set', 'demo_get', 'demo_alone'])
        self.assertEqual(self.hdr.find('demo_thing').kind, 'struct')
        self.assertIn('} demo_thing;', self.hdr.find('demo_thing').decl)
        self.assertEqual(self.hdr.find('demo_set').decl,
                         'int demo_set(demo_thing *thing, int flags);')

    def test_summary_may_take_two_lines(self):
        self.assertEqual(self.hdr.find('demo_set').summary,
                         'set a thing, a long summary that goes on onto a '
                         'second line')

    def test_parameters_and_sections(self):
        d = self.hdr.find('demo_set')
        self.assertEqual([p for p, _ in d.params], ['thing', 'flags'])
        self.assertEqual(sorted(d.sections), ['Context', 'Errors', 'Return'])
        self.assertTrue(d.sections['Errors'].startswith('EINVAL: bad @flags.'))
        self.assertNotIn('Context:', '\n'.join(d.body))

    def test_macros_take_the_comment_above_and_skip_the_guard(self):
        self.assertEqual(len(self.hdr.macros), 1)
        m = self.hdr.macros[0]
        self.assertEqual(m.names, ['EVSIG_A', 'EVSIG_B'])
        self.assertEqual(m.lines[0], '/* Flags of demo_set(). */')

    def test_banner_and_intro(self):
        self.assertEqual(self.hdr.banners[0].title,
                         '3.1 Things: demo_get() and demo_set()')
        self.assertIs(self.hdr.find('demo_set').banner, self.hdr.banners[0])
        self.assertEqual(self.hdr.intro[0], 'demo.h - the sample.')

    def test_a_bad_title_is_an_error(self):
        with self.assertRaises(ValueError):
            kdoc2man.parse_header('/**\n * demo - no parentheses\n */\nint x;')


class CoverageTest(unittest.TestCase):
    def test_the_sample_is_covered(self):
        hdr = kdoc2man.parse_header(SAMPLE)
        self.assertEqual(
            kdoc2man.check_coverage(hdr, kdoc2man.parse_pages(PAGES)), [])

    def test_a_function_on_no_page_fails(self):
        hdr = kdoc2man.parse_header(SAMPLE)
        pages = kdoc2man.parse_pages(PAGES.replace('demo_alone | |', ''))
        self.assertEqual(kdoc2man.check_coverage(hdr, pages),
                         ['demo_alone is on no page: add it to pages.txt'])

    def test_a_name_the_header_lacks_or_twice_fails(self):
        hdr = kdoc2man.parse_header(SAMPLE)
        pages = kdoc2man.parse_pages(
            PAGES.replace('demo_thing', 'demo_thing demo_gone demo_get'))
        errors = kdoc2man.check_coverage(hdr, pages)
        self.assertIn('demo_get is on demo_set(3) and demo_set(3)', errors)
        self.assertIn('demo_set(3) lists demo_gone, which evsig.h does not '
                      'document', errors)

    def test_a_malformed_pages_line_fails(self):
        with self.assertRaises(ValueError):
            kdoc2man.parse_pages('demo_set demo_get\n')


class RoffTest(unittest.TestCase):
    def setUp(self):
        self.hdr = kdoc2man.parse_header(SAMPLE)
        self.pages = kdoc2man.parse_pages(PAGES)
        self.page = kdoc2man.render_page(self.pages[1], self.hdr, self.pages,
                                         Args())
        self.alone = kdoc2man.render_page(self.pages[2], self.hdr,
                                          self.pages, Args())

    def section(self, text, name):
        m = re.search(r'^\.SH %s\n(.*?)(?=^\.SH |\Z)' % name, text,
                      re.S | re.M)
        self.assertIsNotNone(m, name)
        return m.group(1)

    def test_title_and_name(self):
        self.assertIn('.TH DEMO_SET 3 2000-01-02 "evsig 9.9" "evsig Manual"',
                      self.page)
        self.assertIn('.SH NAME\ndemo_set, demo_get \\- set or get a thing\n',
                      self.page)
        self.assertIn('.SH NAME\ndemo_alone \\- a page of its own\n',
                      self.alone)

    def test_synopsis_has_macros_types_and_prototypes(self):
        syn = self.section(self.page, 'SYNOPSIS')
        self.assertIn('.B #include <evsig.h>', syn)
        self.assertIn('#define EVSIG_A 0x1   /* the A flag */', syn)
        self.assertIn('typedef struct demo_thing {', syn)
        self.assertIn('int \\fBdemo_set\\fP(demo_thing *\\fIthing\\fP, '
                      'int \\fIflags\\fP);', syn)
        self.assertTrue(syn.startswith('.nf\n') and syn.endswith('.fi\n'))

    def test_group_pages_have_a_subsection_per_function_and_type(self):
        desc = self.section(self.page, 'DESCRIPTION')
        self.assertEqual(re.findall(r'^\.SS (.*)$', desc, re.M),
                         ['demo_set()', 'demo_get()', 'struct demo_thing'])
        self.assertIn('.TP\n.I thing\nthe thing; see \\fIthing\\->x\\fP.',
                      desc)
        self.assertNotIn('.SS', self.section(self.alone, 'DESCRIPTION'))

    def test_escaping(self):
        desc = self.section(self.page, 'DESCRIPTION')
        self.assertIn('Sets it \\(em at once \\(em as \\(dqOwnership\\(dq '
                      'in \\fBevsig\\fP(3) says', desc)
        self.assertIn('\\fBdemo_get\\fP()', desc)
        self.assertIn('\\fBsignal\\fP(7)', desc)
        self.assertIn('\\-1 means none, SIGRTMAX\\-2 too, back\\eslash, '
                      '\\(dqquoted\\(dq,\n\\[u00A7].', desc)
        self.assertIn('\n\\&.leading dot', desc)
        self.assertIn("\n\\&'leading quote", desc)

    def test_bullets_and_code(self):
        desc = self.section(self.page, 'DESCRIPTION')
        self.assertIn('.IP \\(bu 2\nfirst item,\ngoing on;\n'
                      '.IP \\(bu 2\nsecond item.', desc)
        self.assertIn('.EX\ndemo_set(&t, \\-1);   // minus\nif (x) {\n'
                      '    y();\n}\n.EE', desc)

    def test_context_and_return_per_function(self):
        self.assertEqual(self.section(self.page, 'CONTEXT'),
                         '.TP\n.BR demo_set ()\nany thread.\n')
        self.assertIn('.TP\n.BR demo_get ()\n0.\n',
                      self.section(self.page, 'RETURN VALUE'))

    def test_errors_become_a_tagged_list(self):
        err = self.section(self.page, 'ERRORS')
        self.assertEqual(re.findall(r'^\.B (.*)$', err, re.M),
                         ['EINVAL', 'ENOMEM', 'EMFILE/ENFILE',
                          'EBUSY (while busy)',
                          "The system's"])
        self.assertIn('.B EINVAL\nbad \\fIflags\\fP.\n.TP\n.B ENOMEM\n'
                      'out of memory;\n', err)
        err = self.section(self.alone, 'ERRORS')
        self.assertTrue(err.startswith(
            'as \\fBdemo_get\\fP(); EINVAL also for nothing;\n'
            '.TP\n.B ETIMEDOUT\ntoo late.'), err)

    def test_see_also_names_the_pages_referred_to(self):
        self.assertEqual(self.section(self.page, 'SEE ALSO'),
                         '\\fBevsig\\fP(3),\n\\fBsignal\\fP(7)\n')
        self.assertEqual(self.section(self.alone, 'SEE ALSO'),
                         '\\fBevsig\\fP(3),\n\\fBdemo_set\\fP(3)\n')

    def test_text_lines_are_short_and_no_paragraph_is_redundant(self):
        verbatim = False
        prev = ''
        for line in lines_of(self.page):
            if line in ('.nf', '.EX', '.fi', '.EE'):
                verbatim = line in ('.nf', '.EX')
            if not verbatim:
                self.assertLessEqual(len(line), 80, line)
                self.assertFalse(line.startswith(' '), line)  # a break
            self.assertFalse(line == '.PP' and prev.split(' ')[0] in
                             ('.SH', '.SS', '.PP'), prev)
            prev = line

    def test_links_and_template(self):
        self.assertEqual(kdoc2man.render_link(self.pages[1]),
                         '.so man3/demo_set.3\n')
        self.assertEqual(kdoc2man.link_names(self.pages[1]),
                         ['demo_get', 'demo_thing'])
        out = kdoc2man.render_template(TEMPLATE, self.hdr, self.pages, Args())
        self.assertIn('.TH EVSIG 3 2000-01-02 "evsig 9.9"', out)
        self.assertIn('Opening text with \\fBcode\\fP in it.', out)
        self.assertIn('.SS Ownership\nWho owns what.', out)
        self.assertIn('Known gap: a gap.', out)
        self.assertIn('.SH MODEL\nProse about every thing.', out)
        self.assertIn('.SS Things\n.TP\n\\fBdemo_thing\\fP(3), on '
                      '\\fBdemo_set\\fP(3)\nA thing.\n.TP\n'
                      '\\fBdemo_set\\fP(3)\nSet a thing', out)
        self.assertIn('.SS Alone\n.TP\n\\fBdemo_alone\\fP(3)\n'
                      'A page of its own.', out)


class MainTest(unittest.TestCase):
    def test_writes_pages_links_and_evsig3(self):
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in (('demo.h', SAMPLE), ('pages.txt', PAGES),
                               ('evsig.3.in', TEMPLATE)):
                with open(os.path.join(tmp, name), 'w') as f:
                    f.write(text)
            out = os.path.join(tmp, 'out')
            rc = kdoc2man.main(['--header', os.path.join(tmp, 'demo.h'),
                                '--pages', os.path.join(tmp, 'pages.txt'),
                                '--template', os.path.join(tmp, 'evsig.3.in'),
                                '--outdir', out, '--version', '1',
                                '--date', '2000-01-01'])
            self.assertEqual(rc, 0)
            self.assertEqual(sorted(os.listdir(out)),
                             ['demo_alone.3', 'demo_get.3', 'demo_set.3',
                              'demo_thing.3', 'evsig.3'])


if __name__ == '__main__':
    unittest.main(verbosity=2)
