"""`rocketnet completion bash`: a bash completion script made from the CLI's own
argparse parser, so it never falls behind the commands."""
from __future__ import annotations

import argparse


def _words(p: argparse.ArgumentParser) -> tuple[list[str], list[str]]:
    """(options, choices of positionals) of one parser."""
    opts: list[str] = []
    choices: list[str] = []
    for a in p._actions:                 # argparse has no public walk of its actions
        if a.option_strings:
            opts.extend(a.option_strings)
        elif a.choices and not isinstance(a, argparse._SubParsersAction):
            choices.extend(str(c) for c in a.choices)
    return opts, choices


def bash(parser: argparse.ArgumentParser) -> str:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    top_opts, _ = _words(parser)
    cases = []
    for name, p in sub.choices.items():
        opts, choices = _words(p)
        words = " ".join(choices + opts)
        cases.append(f'        {name}) words="{words}" ;;')
    cmds = " ".join(sub.choices)
    return f"""# bash completion for rocketnet: eval "$(rocketnet completion bash)"
_rocketnet() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} cmd="" i words
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in
            --) return 0 ;;            # the command after -- completes as a command
            -*) ;;
            *) cmd=${{COMP_WORDS[i]}}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "{cmds} {' '.join(top_opts)}" -- "$cur"))
        return 0
    fi
    case $cmd in
{chr(10).join(cases)}
        *) words="" ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    [[ ${{#COMPREPLY[@]}} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur"))
    return 0
}}
complete -F _rocketnet rocketnet
"""
