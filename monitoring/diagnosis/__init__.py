"""Diagnosis: anomalies in, fix proposals out (LM through DSPy, or offline playbooks).

The package's one entry point is :class:`Diagnoser` (with :class:`DiagnosisUsage`, what a
diagnosis cost); everything else is internal::

    diagnoser.py   Diagnoser.propose(anomalies) -> [FixProposal], budget, cache, fallbacks
    context.py     code the evidence points at (repo.py: files; emitters.py: who logs it);
                   edits are reviewed against it by core/review.py
    inputs.py      masked, delimited, bounded LM inputs
    locate.py      an LM edit's loose path and drifted old_text -> the file's exact lines
    coerce.py      what a model meant: edits with unescaped quotes, Markdown risk levels
    signatures.py  AnalyzeAnomaly, GenerateFix            } imported only when
    program.py     the dspy.Module and the DSPy boundary  } MENDBOT_LM is set
    adapter.py     DSPy adapters reading near misses       }
    lm.py          dspy.LM from the settings               }
    compiled.py    labelled examples, LabeledFewShot /     } (and for mendbot learn)
                   BootstrapFewShot, a compiled program's  }
                   state saved and loaded (demos only)     }
    config.py      LMConfig: which LM to ask and how to reach it (no dspy import)
    draft.py       Draft: what a playbook or the LM concluded; proposal_from() makes the FixProposal
    playbooks.py   offline root causes (remedies/: the edits they may propose, by class)
    reproduce.py   the regression test a playbook writes, per way a failure is reached
    titles.py      a proposal's one-line title, placeholders taken out
    cache.py       LM diagnoses per fingerprint, model and code digest
    usage.py       DiagnosisUsage: LM requests, tokens and seconds per anomaly
    errors.py      DiagnosisError tree
    messages.py    every sentence a person reads
"""

from monitoring.diagnosis.diagnoser import Diagnoser
from monitoring.diagnosis.usage import DiagnosisUsage

__all__ = ["Diagnoser", "DiagnosisUsage"]
